/**
 * `logtrace-auth/verifier`: what a resource server (the log API) imports to check LogTrace Auth access
 * tokens and API keys locally. Depends on `jose` and node's built-ins only; never on server modules.
 *
 *   const verifier = createVerifier({ issuer, audience, apiKeys: { credential } });
 *   const principal = await verifier.verify({ authorization, apiKey, ip });
 *   if (!(await verifier.can(principal, 'read:logs', projectId))) …
 *   await verifier.close();
 */
export { createVerifier, type Principal, type Verifier, type VerifierOptions, type VerifierStats, type VerifyInput } from './verifier.ts';
export { VerifierError, type VerifierErrorCode } from './errors.ts';
export { credentialsOf, expressGuard, koaGuard, nodeHttpGuard, sendRefusal, type GuardOptions } from './adapters.ts';
