// The content type a snapshot file is previewed with, from its name: text as text/plain (HTML included, so a
// backed-up page is shown, not run), the common image formats as images, everything else as bytes to download.

const TEXT = new Set(
  'txt md markdown log csv tsv json yaml yml toml ini conf cfg xml html htm css js mjs cjs ts tsx jsx py rb go rs c h cc cpp hpp java kt sh bash zsh fish sql env gitignore dockerfile makefile diff patch tex rst properties service timer'.split(
    ' ',
  ),
);

const IMAGES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  bmp: 'image/bmp',
  ico: 'image/x-icon',
  avif: 'image/avif',
  svg: 'image/svg+xml',
};

export type PreviewKind = 'text' | 'image' | 'none';

function extension(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot < 0 ? name : name.slice(dot + 1)).toLowerCase();
}

export function previewKind(name: string): PreviewKind {
  const ext = extension(name);
  if (IMAGES[ext] !== undefined) return 'image';
  return TEXT.has(ext) ? 'text' : 'none';
}

export function contentType(name: string): string {
  const ext = extension(name);
  if (IMAGES[ext] !== undefined) return IMAGES[ext];
  if (TEXT.has(ext)) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}
