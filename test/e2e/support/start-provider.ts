/** Starts the provider named by `DAT_E2E_PROVIDER` (default `local`). */
import { startKindProvider } from './kind-provider.js';
import { startLocalProvider } from './local-provider.js';
import { selectedProvider, type ClusterProvider } from './provider.js';

/** The provider the environment asks for, started. */
export async function startProvider(): Promise<ClusterProvider> {
  return selectedProvider() === 'kind' ? startKindProvider() : startLocalProvider();
}
