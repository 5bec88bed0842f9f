/** Starts the e2e suite's cluster provider: the kind cluster of `scripts/kind/cluster.sh up`. */
import { startKindProvider } from './kind-provider.js';
import type { ClusterProvider } from './provider.js';

/** The provider, started. */
export function startProvider(): Promise<ClusterProvider> {
  return Promise.resolve(startKindProvider());
}
