/**
 * Application extension type numbers (0..127) for the JS types msgpack has no family for. The
 * defaults, Set 0 and Map 1, are the ones in @msgpack/msgpack's README example, so a peer that
 * followed it reads ours.
 */
// Its own file, importing nothing: the public types reach it, and @msgpack/msgpack's types name
// the DOM's BufferSource, which a Node project without the DOM lib cannot find (TS2304).
export interface ExtensionTypes {
  set: number;
  map: number;
}
