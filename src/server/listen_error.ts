/**
 * Why the server could not listen, in the words of the flags that set the address: an operator who reads
 * `--port 8000: address 127.0.0.1:8000 is already in use` knows what to change, a stack trace does not say.
 *
 * @module
 */

/** The server could not listen on `--address`/`--port`; the message names the flag and the cause. */
export class ListenError extends Error {
  override name = "ListenError";
}

/** Turns what `Deno.serve` threw into a {@link ListenError} naming the flag at fault. */
export function listenError(error: unknown, address: string, port: number): ListenError {
  const where = `${address.includes(":") ? `[${address}]` : address}:${port}`;
  if (error instanceof Deno.errors.AddrInUse) {
    return new ListenError(`--port ${port}: address ${where} is already in use`);
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return new ListenError(
      `--address ${address}: not an address of this machine (cannot listen on ${where})`,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    const hint = port > 0 && port < 1024 ? " (ports below 1024 need privileges)" : "";
    return new ListenError(`--port ${port}: not allowed to listen on ${where}${hint}`);
  }
  const text = error instanceof Error ? error.message : String(error);
  return new ListenError(`--address ${address} --port ${port}: cannot listen on ${where}: ${text}`);
}
