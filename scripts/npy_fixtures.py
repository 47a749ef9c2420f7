"""Writes the .npy files test/unit/vector_files.test.ts reads, with NumPy itself, so the reader is checked
against the files NumPy really writes (run by hand: python3 scripts/npy_fixtures.py; CI needs no Python).

Every table holds v[i, j] = 10 i + j + 0.5 (exact in float32), 3 rows of width 4."""
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'npy')
os.makedirs(OUT, exist_ok=True)
table = np.array([[10 * i + j + 0.5 for j in range(4)] for i in range(3)])


def write(name, array, version=None):
    with open(os.path.join(OUT, name), 'wb') as f:
        np.lib.format.write_array(f, array, version=version, allow_pickle=False)


write('f4_v1.npy', table.astype('<f4'), (1, 0))
write('f8_v1.npy', table.astype('<f8'), (1, 0))
write('f4_big_endian.npy', table.astype('>f4'), (1, 0))
write('f8_big_endian_v2.npy', table.astype('>f8'), (2, 0))
write('f4_v3.npy', table.astype('<f4'), (3, 0))
write('fortran.npy', np.asfortranarray(table.astype('<f4')), (1, 0))
write('f2.npy', table.astype('<f2'), (1, 0))
write('i4.npy', table.astype('<i4'), (1, 0))
write('one_d.npy', table[0].astype('<f4'), (1, 0))
write('three_d.npy', table.astype('<f4').reshape(3, 2, 2), (1, 0))
write('structured.npy', np.zeros(3, dtype=[('a', '<f4'), ('b', '<f4')]), (1, 0))
write('empty.npy', np.zeros((0, 4), dtype='<f4'), (1, 0))
