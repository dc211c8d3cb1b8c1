/**
 * The mutations `deno task mutants` applies: small, realistic bugs, each with the fast tests meant to catch it.
 * The list grows with each bug fixed: add the bug as a mutation before (or with) the test that kills it. When
 * the code under a `find` text changes, change the text here too (the runner reports it as NOT APPLIED).
 *
 * @module
 */

/** One bug: `find` (exactly once in `file`, or every occurrence with `all`) replaced by `replace`. */
export interface Mutation {
  readonly id: string;
  readonly file: string;
  readonly find: string;
  readonly replace: string;
  readonly all?: boolean;
  /** Test files (from the repository root) that must fail with the bug in. */
  readonly tests: readonly string[];
  readonly why: string;
}

const FEED = ["tests/feed/feed_test.ts"];

export const MUTATIONS: readonly Mutation[] = [
  {
    id: "aligner-streaming-overflow",
    file: "src/ingest/aligner.ts",
    find:
      'this.#fault(state, "overflow", state.last ?? 0, `${state.name} is far ahead of the other stream`);',
    replace: "void 0;",
    all: true,
    tests: ["tests/ingest/aligner_test.ts"],
    why: "the streaming aligner never reports a stream running too far ahead",
  },
  {
    id: "aligner-by-block-overflow",
    file: "src/ingest/aligner.ts",
    find: "} else if (state.pending.size > this.#options.maxPending) {",
    replace: "} else if (false) {",
    tests: ["tests/ingest/aligner_test.ts"],
    why: "the by-block aligner never reports a stream running too far ahead",
  },
  {
    id: "views-not-conflated",
    file: "src/feed/edge.ts",
    find: "if (client.awaiting?.has(key) !== true) this.#delivery.deliver(client, text, key);",
    replace: "if (client.awaiting?.has(key) !== true) this.#delivery.deliver(client, text, null);",
    tests: FEED,
    why: "l2Book, bbo and allMids are queued, not conflated, for a slow client",
  },
  {
    id: "allmids-dex-ignored",
    file: "src/feed/views.ts",
    find: 'return dex === "" ? colon < 0 : colon === dex.length && coin.startsWith(dex);',
    replace: "return true;",
    tests: FEED,
    why: "allMids ignores its dex: every coin of every dex is in every view",
  },
  {
    id: "info-bad-params-text",
    file: "src/feed/subscription.ts",
    find:
      '"invalid l2Book parameters: nSigFigs must be 2..5 or null, mantissa 2 or 5 only with nSigFigs 5, " +',
    replace: '"" + "" +',
    tests: ["tests/feed/subscription_test.ts"],
    why: "the info error for bad l2Book parameters loses its text",
  },
  {
    id: "info-unknown-coin-text",
    file: "src/feed/subscription.ts",
    find: "return { ok: false, error: `unknown coin ${JSON.stringify(raw.coin ?? null)}` };",
    replace: 'return { ok: false, error: "" };',
    tests: ["tests/feed/subscription_test.ts"],
    why: "the info error for an unknown coin loses its text",
  },
  {
    id: "bring-forward-nothing",
    file: "src/ingest/pipeline.ts",
    find: "while (books.height < this.#cacheHi) {",
    replace: "while (false) {",
    tests: ["tests/ingest/pipeline_test.ts"],
    why: "a snapshot behind the files is served without replaying the cached blocks",
  },
  {
    id: "too-old-taken-as-ok",
    file: "src/ingest/pipeline.ts",
    find: 'if (!block) return "too old";',
    replace: 'if (!block) return "ok";',
    tests: ["tests/ingest/pipeline_test.ts"],
    why: "a snapshot older than the block cache is served with a hole in its history",
  },
  {
    id: "validation-never-disagrees",
    file: "src/ingest/pipeline.ts",
    find: "const mismatch = compareBooks(fresh, books);",
    replace: "const mismatch = null;",
    tests: ["tests/reliability/snapshot_faults_test.ts"],
    why: "the periodic validation snapshot never finds a drifted book",
  },
  {
    id: "abort-as-snapshot-error",
    file: "src/ingest/snapshot_client.ts",
    find: "    signal?.throwIfAborted();\n    try {",
    replace: '    if (signal?.aborted) throw new SnapshotError("aborted");\n    try {',
    tests: ["tests/ingest/snapshot_client_test.ts"],
    why: "stopping the snapshot retries reports a node failure instead of the abort",
  },
  {
    id: "l2-mantissa-ignored@feed",
    file: "src/book/l2.ts",
    find: "side.bucketIndex(params.nSigFigs, params.mantissa ?? 1)",
    replace: "side.bucketIndex(params.nSigFigs, 1)",
    tests: FEED,
    why: "l2Book buckets ignore the mantissa (feed test)",
  },
  {
    id: "l2-mantissa-ignored@fuzz",
    file: "src/book/l2.ts",
    find: "side.bucketIndex(params.nSigFigs, params.mantissa ?? 1)",
    replace: "side.bucketIndex(params.nSigFigs, 1)",
    tests: ["tests/feed/fuzz_test.ts"],
    why: "l2Book buckets ignore the mantissa (feed fuzz test)",
  },
  {
    id: "l2-mantissa-ignored@http",
    file: "src/book/l2.ts",
    find: "side.bucketIndex(params.nSigFigs, params.mantissa ?? 1)",
    replace: "side.bucketIndex(params.nSigFigs, 1)",
    tests: ["tests/server/http_test.ts"],
    why: "l2Book buckets ignore the mantissa (POST /info test)",
  },
  {
    id: "l2-bids-round-up",
    file: "src/book/order_book.ts",
    find: "return isBid ? px - r : px - r + inc;",
    replace: "return px - r + inc;",
    tests: FEED,
    why: "bids round up into their bucket instead of down",
  },
];
