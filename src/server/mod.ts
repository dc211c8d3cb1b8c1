/**
 * hlbook's HTTP and WebSocket server.
 *
 * @module
 */
export { healthFigures, type Server, type ServerOptions, startServer } from "./http.ts";
export { ListenError } from "./listen_error.ts";
export { serveSocket, type SocketLimits } from "./socket.ts";
export {
  type ForwardResult,
  InfoForwarder,
  type InfoForwardOptions,
  refusedInfoRequest,
} from "./info_forward.ts";
export { InfoProxy, type PostAnswer } from "./info_proxy.ts";
export { addressKey, type GuardOptions, isLoopback, resolveAuthToken } from "./limits.ts";
