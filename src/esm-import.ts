// import() of what stays outside the bundle (chalk, node-redis's build, the log command), done by
// code that Node compiled itself. The bundle may be compiled from V8's code cache
// (boot/code-cache.ts), and there an import() would need an experimental flag on Node 20. The
// loader hands its own import() in; specifiers resolve from dist/, where both live.
export type Importer = (specifier: string) => Promise<unknown>;

let importer: Importer = (specifier) => import(specifier);

export function setImporter(fn: Importer): void {
  importer = fn;
}

export function importEsm<T>(specifier: string): Promise<T> {
  return importer(specifier) as Promise<T>;
}
