import type { JsonObject, Store } from '../store/index.ts';

/** How long a browser may take at the upstream, from leaving to the callback (its binding cookie lives as long). */
export const TRANSACTION_TTL = 600;
/** How long a callback's outcome waits for the browser to come back under the interaction's path. */
const RESULT_TTL = 300;

const stateKey = (state: string) => `federation:state:{${state}}`;
const resultKey = (uid: string) => `federation:result:{${uid}}`;

/** Longer than any state this server makes: looked up nowhere. */
const MAX_STATE_LENGTH = 200;

/**
 * The server-side half of a federated sign-in's round trip: the transaction an upstream's `state` (or SAML
 * RelayState) names, taken exactly once by the first callback that names it, whatever it brings; and the
 * callback's outcome, read once by the interaction it belongs to. The door (src/interactions/federation.ts)
 * decides what the two hold.
 */
export class FederationTransactions<Tx extends JsonObject & { connector_id: string }, Result extends JsonObject> {
  private readonly store: Store;
  constructor(store: Store) {
    this.store = store;
  }

  async begin(state: string, tx: Tx): Promise<void> {
    await this.store.put(stateKey(state), tx, TRANSACTION_TTL);
  }

  /** The transaction a state names, once, when it belongs to this connector; else undefined. */
  async take(state: string | undefined, connectorId: string): Promise<Tx | undefined> {
    if (!state || state.length > MAX_STATE_LENGTH) return undefined;
    const outcome = await this.store.consume(stateKey(state), 'used', Date.now());
    if (outcome.result !== 'consumed') return undefined;
    const tx = await this.store.get<Tx>(stateKey(state));
    await this.store.delete(stateKey(state));
    return tx && tx.connector_id === connectorId ? tx : undefined;
  }

  /** The outcome of an interaction's callback, for the interaction to read. */
  async land(uid: string, result: Result): Promise<void> {
    await this.store.put(resultKey(uid), result, RESULT_TTL);
  }

  /** An interaction's outcome, once. */
  async collect(uid: string): Promise<Result | undefined> {
    const result = await this.store.get<Result>(resultKey(uid));
    await this.store.delete(resultKey(uid));
    return result;
  }
}
