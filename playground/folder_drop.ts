/**
 * What a drop holds: dropped folders are walked (the drag-and-drop File System entries), so a run folder
 * dragged from the desktop arrives as its files by path, as a folder picker gives them.
 */

/** The dropped files by their path ('baby/config.json'); a dropped zip or text file is there by its name. */
export async function droppedFiles(data: DataTransfer): Promise<Map<string, File>> {
  const out = new Map<string, File>();
  const entries = Array.from(data.items).map((item) => item.webkitGetAsEntry?.() ?? null);
  if (entries.some((e) => e === null)) {
    for (const f of Array.from(data.files)) out.set(f.name, f);
    return out;
  }
  for (const entry of entries) await walk(entry!, '', out);
  return out;
}

async function walk(entry: FileSystemEntry, prefix: string, out: Map<string, File>): Promise<void> {
  const path = prefix + entry.name;
  if (entry.isFile) {
    out.set(path, await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject)));
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries gives the folder in batches until it gives an empty one.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return;
    for (const child of batch) await walk(child, `${path}/`, out);
  }
}

/** Calls `onDrop` with what is dropped on `zone`, and marks the zone while something is dragged over it. */
export function acceptDrops(zone: HTMLElement, onDrop: (data: DataTransfer) => void): void {
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('dragging');
    if (e.dataTransfer !== null) onDrop(e.dataTransfer);
  });
}
