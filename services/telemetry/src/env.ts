// The environment as the readers see it: read-only, every variable possibly unset.

export type Env = Readonly<Record<string, string | undefined>>;
