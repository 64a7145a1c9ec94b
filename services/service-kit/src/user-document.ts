// The user document user-service answers and the api-gateway forwards: one definition of the
// contract between the two.

export interface User {
  id: number;
  name: string;
  email: string;
}

/** True for a value with the document's fields and types (extra fields are the caller's to drop). */
export function isUser(value: unknown): value is User {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.id === 'number' &&
    Number.isSafeInteger(v.id) &&
    typeof v.name === 'string' &&
    typeof v.email === 'string'
  );
}
