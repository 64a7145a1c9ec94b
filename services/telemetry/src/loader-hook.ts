// The ESM loader hook (import-in-the-middle): without it `import express from 'express'` in an ES
// module is never patched (no route names, no log correlation). It intercepts only the modules the
// instrumentations patch (express, pino, http, https); everything else loads untouched.
//
// On Node versions where import-in-the-middle can run it synchronously (>= 24.11.1, 26), it is
// registered with module.registerHooks(): in the application thread, no loader thread, no message
// channel, and no DEP0205 warning (Node 26 deprecates module.register()). Older versions get the
// asynchronous module.register() loader, told which modules to intercept over a message channel.

import { register } from 'node:module';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import {
  register as registerSyncHooks,
  supportsSyncHooks,
} from 'import-in-the-middle/register-hooks.mjs';

/** The module names `instrumentations` patch. */
export function hookedModules(instrumentations: readonly Instrumentation[]): string[] {
  const names = instrumentations.flatMap((i) =>
    'getModuleDefinitions' in i && typeof i.getModuleDefinitions === 'function'
      ? (i.getModuleDefinitions() as { name: string }[]).map((d) => d.name)
      : [],
  );
  return [...new Set(names)];
}

/** Which API registers the hook on this Node. */
export function loaderHookApi(): 'registerHooks' | 'register' {
  return supportsSyncHooks() ? 'registerHooks' : 'register';
}

/**
 * Creates the instrumentations (which enables them) with the loader hook in place for the modules
 * they patch. Must run before the application's first import.
 */
export async function withLoaderHook(create: () => Instrumentation[]): Promise<Instrumentation[]> {
  if (loaderHookApi() === 'registerHooks') {
    const instrumentations = create();
    registerSyncHooks({ include: hookedModules(instrumentations) });
    return instrumentations;
  }
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, registerOptions);
  const instrumentations = create();
  // The loader must know every hooked module before the application's first import runs.
  await waitForAllMessagesAcknowledged();
  return instrumentations;
}
