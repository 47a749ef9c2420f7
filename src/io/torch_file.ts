/**
 * The file torch.save writes (PyTorch 1.6 and later), read and written without PyTorch: a stored zip archive of
 *
 *   <name>/data.pkl       the saved object, a pickle (protocol 2) in which each tensor is
 *                         torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)
 *   <name>/data/<key>     each storage's raw bytes (little-endian), named by the key its persistent id gives:
 *                         ('storage', torch.FloatStorage, key, location, numel)
 *   <name>/version        the format version, "3"; newer PyTorch adds <name>/byteorder ("little") and more
 *
 * Reading allows exactly the globals such a checkpoint needs and nothing else: collections.OrderedDict (state
 * dicts), torch._utils._rebuild_tensor_v2 (tensors) and torch.FloatStorage (their storages' type). A tensor
 * becomes a TorchTensor, a view into its storage, which is copied out of the file once however many tensors
 * share it (nanoGPT's tied lm_head and wte do), so what is allocated never exceeds the file's own size.
 * Browser-safe.
 */
import { TsgptError } from '../errors.js';
import { quote } from '../validate.js';
import { GlobalRef, type PickleGlobal, PyTuple, unpickle } from './pickle.js';
import { pickle, py, type PyValue } from './pickle_write.js';
import { decodeStoredZip, encodeStoredZip, type StoredZip, type ZipEntry } from './zip.js';

/** A float32 tensor from a checkpoint: its shape and its values in row-major order. */
export interface TorchTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** What the storage type global stands for: it names a dtype and is never called. */
const FLOAT_STORAGE: PickleGlobal = {};
const ORDERED_DICT = 'collections.OrderedDict';
const REBUILD_TENSOR = 'torch._utils._rebuild_tensor_v2';
/** Tensors of more dimensions than this are not in any checkpoint tsgpt reads. */
const MAX_DIMS = 8;

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The object a torch.save file holds, with its tensors as TorchTensors, state dicts (OrderedDict) and dicts as
 * Maps, tuples as PyTuples and lists as arrays (see pickle.ts).
 */
export function decodeTorchFile(bytes: Uint8Array, label: string): unknown {
  const zip = decodeStoredZip(bytes, label);
  const pickles = zip.names.filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    throw new TsgptError(`${label}: not a torch.save checkpoint (it holds ${pickles.length === 0 ? 'no' : 'several'} <name>/data.pkl)`);
  }
  const prefix = pickles[0]!.slice(0, -'data.pkl'.length);
  if (zip.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(zip.read(`${prefix}byteorder`));
    if (order !== 'little') throw new TsgptError(`${label}: its tensors are stored ${quote(order)}-endian; tsgpt reads little-endian ones`);
  }
  const storages = new Map<string, Float32Array>();
  const globals: Record<string, PickleGlobal> = {
    [ORDERED_DICT]: orderedDict,
    [REBUILD_TENSOR]: { call: rebuildTensor },
    'torch.FloatStorage': FLOAT_STORAGE,
  };
  return unpickle(zip.read(pickles[0]!), {
    label: `${label} (${pickles[0]})`,
    globals,
    persistentLoad: (pid, fail) => loadStorage(zip, prefix, storages, pid, fail),
  });
}

/** collections.OrderedDict(): an empty Map that SETITEMS fills; its state (a state dict's _metadata) is not needed. */
const orderedDict: PickleGlobal = {
  call(args, fail) {
    if (args.length !== 0) fail('an OrderedDict made with arguments, which torch.save never writes');
    return new Map();
  },
  build(_value, state, fail) {
    if (state !== null && !(state instanceof Map)) fail('an OrderedDict given state that is not a dictionary');
  },
};

/** A storage's floats, read from <prefix>data/<key> (once per key) after its size is checked against numel. */
function loadStorage(
  zip: StoredZip,
  prefix: string,
  storages: Map<string, Float32Array>,
  pid: unknown,
  fail: (problem: string) => never,
): Float32Array {
  const items = pid instanceof PyTuple ? pid.items : [];
  const [tag, type, key, , numel] = items;
  if (items.length !== 5 || tag !== 'storage' || typeof key !== 'string' || typeof numel !== 'number') {
    fail('a persistent id that is not a storage of the form (storage, type, key, location, numel)');
  }
  if (!(type instanceof GlobalRef) || type.impl !== FLOAT_STORAGE) fail(`storage ${quote(String(key))} is not a FloatStorage`);
  const name = `${prefix}data/${key as string}`;
  const size = zip.size(name);
  if (size === undefined) fail(`storage ${quote(key as string)} has no entry ${quote(name)} in the archive`);
  if (!Number.isSafeInteger(numel) || size !== (numel as number) * 4) {
    fail(`storage ${quote(key as string)} declares ${String(numel)} floats but its entry holds ${size} bytes`);
  }
  let data = storages.get(key as string);
  if (data === undefined) {
    data = floatsOf(zip.read(name));
    storages.set(key as string, data);
  }
  return data;
}

/** Little-endian float32 bytes as a Float32Array of their own (the zip's copy may not be 4-byte aligned). */
function floatsOf(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length / 4);
  if (HOST_IS_LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes);
  else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  }
  return out;
}

/**
 * torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata]): a
 * view of `size` into the storage from `offset`. Only contiguous row-major views are accepted (every tensor of a
 * state dict or an optimizer state is one), so a view can never hold more values than its storage.
 */
function rebuildTensor(args: readonly unknown[], fail: (problem: string) => never): TorchTensor {
  if (args.length !== 6 && args.length !== 7) fail(`${args.length} arguments where 6 or 7 belong`);
  const [storage, offset, size, stride, requiresGrad, hooks, metadata] = args;
  if (!(storage instanceof Float32Array)) fail('a tensor whose storage is not a FloatStorage');
  const shape = intTuple(size, 'size', fail);
  const strides = intTuple(stride, 'stride', fail);
  if (strides.length !== shape.length) fail(`a tensor of size (${shape}) with stride (${strides})`);
  if (typeof requiresGrad !== 'boolean') fail('requires_grad is not a boolean');
  const noHooks = (v: unknown) => v === null || v === undefined || (v instanceof Map && v.size === 0);
  if (!noHooks(hooks) || !noHooks(metadata)) fail('a tensor with backward hooks or metadata, which a checkpoint has no use for');
  const data = storage as Float32Array;
  let count = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i]! > 1 && strides[i] !== count) fail(`a tensor of size (${shape}) that is not contiguous (stride (${strides}))`);
    count *= shape[i]!;
    if (count > data.length) break;
  }
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0 || offset + count > data.length) {
    fail(`a tensor of size (${shape}) at offset ${String(offset)} runs past its storage of ${data.length} floats`);
  }
  return { shape, data: data.subarray(offset as number, (offset as number) + count) };
}

function intTuple(v: unknown, what: string, fail: (problem: string) => never): number[] {
  if (!(v instanceof PyTuple) || v.items.length > MAX_DIMS) fail(`a tensor's ${what} is not a tuple of at most ${MAX_DIMS} integers`);
  const items = (v as PyTuple).items;
  if (!items.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    fail(`a tensor's ${what} holds something other than whole numbers from 0 up`);
  }
  return items as number[];
}

/**
 * Builds a torch.save file: `tensor()` turns float32 data into the pickle's description of a tensor, and
 * `finish()` writes the archive. Tensors given the same Float32Array share one storage, as tied weights do.
 */
export class TorchFileWriter {
  private readonly storages: Float32Array[] = [];
  private readonly keys = new Map<Float32Array, string>();

  tensor(shape: readonly number[], data: Float32Array): PyValue {
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`torch file: shape [${shape}] holds ${count} values, data ${data.length}`);
    let key = this.keys.get(data);
    if (key === undefined) {
      key = String(this.storages.length);
      this.keys.set(data, key);
      this.storages.push(data);
    }
    const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const storage = py.persid(py.tuple('storage', py.global('torch', 'FloatStorage'), key, 'cpu', py.int(data.length)));
    const emptyHooks = py.orderedDict([]);
    return py.reduce(
      py.global('torch._utils', '_rebuild_tensor_v2'),
      py.tuple(storage, py.int(0), py.tuple(...shape.map(py.int)), py.tuple(...strides.map(py.int)), false, emptyHooks),
    );
  }

  /** The archive of `root`, its records under `name/` as torch.save names them after the file ("ckpt"). */
  finish(root: PyValue, name: string): Uint8Array {
    const entries: ZipEntry[] = [
      { name: `${name}/data.pkl`, data: pickle(root) },
      { name: `${name}/byteorder`, data: new TextEncoder().encode('little') },
    ];
    this.storages.forEach((data, i) => entries.push({ name: `${name}/data/${i}`, data: littleEndianBytes(data) }));
    entries.push({ name: `${name}/version`, data: new TextEncoder().encode('3\n') });
    return encodeStoredZip(entries);
  }
}

function littleEndianBytes(data: Float32Array): Uint8Array {
  if (HOST_IS_LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  data.forEach((x, i) => view.setFloat32(4 * i, x, true));
  return out;
}
