// A small non-cryptographic hash (FNV-1a, 64 bits) for names: loading node:crypto costs a
// one-shot like `warden run` more than everything it hashes.
const OFFSET = 0xcbf29ce484222325n;
const PRIME = 0x100000001b3n;
const MASK = 0xffffffffffffffffn;

/** 16 hex digits of FNV-1a over the UTF-8 bytes of `text`, salted by `round` for longer digests. */
export function fnv64(text: string, round = 0): string {
  let h = OFFSET ^ BigInt(round);
  for (const byte of Buffer.from(text)) {
    h ^= BigInt(byte);
    h = (h * PRIME) & MASK;
  }
  return h.toString(16).padStart(16, '0');
}
