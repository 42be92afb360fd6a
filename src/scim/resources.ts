import { matches, parsePatchPath, member, ScimFilterError, type Filter, type PatchPath } from './filter.ts';

/**
 * The attributes we keep of SCIM Users and Groups (RFC 7643 §4), read from request bodies and changed by
 * PATCH operations (RFC 7644 §3.5.2) as Entra ID and Okta send them. Pure: no store, no HTTP.
 *
 * Everything else a client sends (passwords, enterprise extension, roles, locale…) is ignored: a directory
 * pushes more than we use, and refusing it would stop its provisioning cycle for nothing.
 */
export const SCHEMA_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const SCHEMA_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

/** RFC 7644 §3.12 `scimType` values we answer with. */
type ScimType = 'invalidFilter' | 'invalidSyntax' | 'invalidPath' | 'invalidValue' | 'noTarget' | 'uniqueness' | 'mutability' | 'tooMany';

/**
 * A SCIM document the door cannot take (RFC 7644 §3.12: 400 with its scimType). The service's refusals
 * (uniqueness, an unknown member) are DomainErrors, mapped by the door's one function.
 */
export class ScimInputError extends Error {
  override readonly name = 'ScimInputError';
  readonly scimType: ScimType | undefined;
  readonly status = 400;
  constructor(scimType: ScimType | undefined, message: string) {
    super(message);
    this.scimType = scimType;
  }
}

interface ScimName {
  formatted?: string | undefined;
  familyName?: string | undefined;
  givenName?: string | undefined;
  middleName?: string | undefined;
  honorificPrefix?: string | undefined;
  honorificSuffix?: string | undefined;
}

interface ScimEmail {
  value: string;
  type?: string | undefined;
  primary?: boolean | undefined;
}

export interface ScimUserAttrs {
  userName: string;
  externalId: string | null;
  active: boolean;
  displayName: string | null;
  name: ScimName | null;
  emails: ScimEmail[];
}

export interface ScimGroupAttrs {
  displayName: string;
  externalId: string | null;
  /** Account ids (the SCIM user ids). */
  members: string[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const MAX_STRING = 256;
const MAX_EMAILS = 20;
const MAX_MEMBERS = 10_000;
const MAX_OPERATIONS = 1000;
const NAME_PARTS = ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'] as const;

function text(value: unknown, field: string, max = MAX_STRING): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new ScimInputError('invalidValue', `${field} must be a string`);
  if (value.length > max) throw new ScimInputError('invalidValue', `${field} is longer than ${max} characters`);
  return value;
}

/** SCIM booleans, and the strings Entra ID sends for them without its compliance flag ("True", "False"). */
function bool(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  throw new ScimInputError('invalidValue', `${field} must be true or false`);
}

/** A User's attributes from a POST or PUT body, or from a resource a PATCH changed. */
export function userFromJson(body: unknown): ScimUserAttrs {
  if (!isObject(body)) throw new ScimInputError('invalidSyntax', 'send a User as a JSON object');
  const userName = text(member(body, 'userName'), 'userName')?.trim();
  if (!userName) throw new ScimInputError('invalidValue', 'userName is required');
  const rawName = member(body, 'name');
  let name: ScimName | null = null;
  if (rawName !== undefined && rawName !== null) {
    if (!isObject(rawName)) throw new ScimInputError('invalidValue', 'name must be an object');
    name = {};
    for (const part of NAME_PARTS) {
      const value = text(member(rawName, part), `name.${part}`);
      if (value !== null) name[part] = value;
    }
  }
  const rawEmails = member(body, 'emails');
  const emails: ScimEmail[] = [];
  if (rawEmails !== undefined && rawEmails !== null) {
    if (!Array.isArray(rawEmails)) throw new ScimInputError('invalidValue', 'emails must be an array');
    if (rawEmails.length > MAX_EMAILS) throw new ScimInputError('invalidValue', `emails has more than ${MAX_EMAILS} values`);
    for (const [i, raw] of rawEmails.entries()) {
      if (!isObject(raw)) throw new ScimInputError('invalidValue', `emails[${i}] must be an object`);
      const value = text(member(raw, 'value'), `emails[${i}].value`, 320)?.trim();
      if (!value) continue;
      const type = text(member(raw, 'type'), `emails[${i}].type`, 32);
      // One primary at most (RFC 7643 §2.4): the first one marked wins.
      const primary = bool(member(raw, 'primary'), `emails[${i}].primary`, false) && !emails.some((e) => e.primary);
      emails.push({ value, ...(type ? { type } : {}), ...(primary ? { primary } : {}) });
    }
  }
  return {
    userName,
    externalId: text(member(body, 'externalId'), 'externalId'),
    active: bool(member(body, 'active'), 'active', true),
    displayName: text(member(body, 'displayName'), 'displayName'),
    name: name && Object.keys(name).length ? name : null,
    emails,
  };
}

/** A Group's attributes from a POST or PUT body, or from a resource a PATCH changed. */
export function groupFromJson(body: unknown): ScimGroupAttrs {
  if (!isObject(body)) throw new ScimInputError('invalidSyntax', 'send a Group as a JSON object');
  const displayName = text(member(body, 'displayName'), 'displayName')?.trim();
  if (!displayName) throw new ScimInputError('invalidValue', 'displayName is required');
  const rawMembers = member(body, 'members');
  const members: string[] = [];
  if (rawMembers !== undefined && rawMembers !== null) {
    if (!Array.isArray(rawMembers)) throw new ScimInputError('invalidValue', 'members must be an array');
    if (rawMembers.length > MAX_MEMBERS) throw new ScimInputError('tooMany', `members has more than ${MAX_MEMBERS} values`);
    for (const [i, raw] of rawMembers.entries()) {
      const value = text(isObject(raw) ? member(raw, 'value') : raw, `members[${i}].value`, 128);
      if (!value) throw new ScimInputError('invalidValue', `members[${i}] has no value (the User id)`);
      if (!members.includes(value)) members.push(value);
    }
  }
  return { displayName, externalId: text(member(body, 'externalId'), 'externalId'), members };
}

/** The attributes as the JSON a PATCH works on (and the SCIM body renders them). */
export function userJson(attrs: ScimUserAttrs): Json {
  return { userName: attrs.userName, externalId: attrs.externalId, active: attrs.active, displayName: attrs.displayName, name: attrs.name, emails: attrs.emails.map((e) => ({ ...e })) };
}

export function groupJson(attrs: ScimGroupAttrs): Json {
  return { displayName: attrs.displayName, externalId: attrs.externalId, members: attrs.members.map((value) => ({ value })) };
}

/** The address an account is made with and a sign-in is matched by: the primary email, else a work one, else the first. */
export function primaryEmail(attrs: Pick<ScimUserAttrs, 'emails'>): string | null {
  return (attrs.emails.find((e) => e.primary) ?? attrs.emails.find((e) => e.type?.toLowerCase() === 'work') ?? attrs.emails[0])?.value ?? null;
}

/** What PATCH knows of an attribute: its canonical name and shape. Anything else is ignored. */
interface AttrDef {
  name: string;
  multi: boolean;
  complex: boolean;
}

export const USER_ATTRS: AttrDef[] = [
  { name: 'userName', multi: false, complex: false },
  { name: 'externalId', multi: false, complex: false },
  { name: 'active', multi: false, complex: false },
  { name: 'displayName', multi: false, complex: false },
  { name: 'name', multi: false, complex: true },
  { name: 'emails', multi: true, complex: true },
];

export const GROUP_ATTRS: AttrDef[] = [
  { name: 'displayName', multi: false, complex: false },
  { name: 'externalId', multi: false, complex: false },
  { name: 'members', multi: true, complex: true },
];

type Op = 'add' | 'replace' | 'remove';

/** The PatchOp body's operations, checked for shape; `op` is case-insensitive (Entra ID sends "Replace"). */
export function patchOperations(body: unknown): Array<{ op: Op; path: string | null; value: unknown }> {
  if (!isObject(body)) throw new ScimInputError('invalidSyntax', 'send a PatchOp as a JSON object');
  const operations = member(body, 'Operations');
  if (!Array.isArray(operations) || operations.length === 0) throw new ScimInputError('invalidSyntax', 'Operations must be a non-empty array');
  if (operations.length > MAX_OPERATIONS) throw new ScimInputError('tooMany', `more than ${MAX_OPERATIONS} operations`);
  return operations.map((raw, i) => {
    if (!isObject(raw)) throw new ScimInputError('invalidSyntax', `Operations[${i}] must be an object`);
    const op = member(raw, 'op');
    if (typeof op !== 'string' || !['add', 'replace', 'remove'].includes(op.toLowerCase())) throw new ScimInputError('invalidSyntax', `Operations[${i}].op must be add, replace or remove`);
    const path = member(raw, 'path');
    if (path !== undefined && path !== null && typeof path !== 'string') throw new ScimInputError('invalidPath', `Operations[${i}].path must be a string`);
    return { op: op.toLowerCase() as Op, path: typeof path === 'string' && path.trim() ? path : null, value: member(raw, 'value') };
  });
}

function defOf(attrs: AttrDef[], schema: string, pp: PatchPath): AttrDef | undefined {
  // Attributes of other schemas (the enterprise extension, Entra's own) are not kept: ignored.
  if (pp.path.schema && pp.path.schema.toLowerCase() !== schema.toLowerCase()) return undefined;
  return attrs.find((a) => a.name.toLowerCase() === pp.path.attr.toLowerCase());
}

/** The member name of an object matching `name` case-insensitively, or `name` itself when absent. */
function keyIn(obj: Json, name: string): string {
  return Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
}

/** `type eq "work"` (and conjunctions of such): the value a new element gets when a filtered add/replace finds none. */
function seedOf(filter: Filter): Json | undefined {
  if (filter.type === 'compare' && filter.op === 'eq' && !filter.path.sub) return { [filter.path.attr]: filter.value };
  if (filter.type === 'and') {
    const left = seedOf(filter.left);
    const right = seedOf(filter.right);
    return left && right ? { ...left, ...right } : undefined;
  }
  return undefined;
}

function sameValue(a: unknown, b: unknown): boolean {
  const va = isObject(a) ? member(a, 'value') : a;
  const vb = isObject(b) ? member(b, 'value') : b;
  return va !== undefined && va !== null && String(va).toLowerCase() === String(vb).toLowerCase();
}

function applyOne(resource: Json, attrs: AttrDef[], schema: string, op: Op, pathText: string, value: unknown): void {
  let pp: PatchPath;
  try {
    pp = parsePatchPath(pathText);
  } catch (err) {
    if (err instanceof ScimFilterError) throw new ScimInputError('invalidPath', `path ${pathText.slice(0, 100)}: ${err.message}`);
    throw err;
  }
  const def = defOf(attrs, schema, pp);
  if (!def) return;
  const key = keyIn(resource, def.name);
  if (!def.multi) {
    if (pp.filter) throw new ScimInputError('invalidPath', `${def.name} is single-valued: it takes no [filter]`);
    if (!def.complex) {
      if (pp.path.sub) return;
      if (op === 'remove') resource[key] = null;
      else resource[key] = value;
      return;
    }
    const current = isObject(resource[key]) ? { ...(resource[key] as Json) } : {};
    if (pp.path.sub) {
      if (op === 'remove') delete current[keyIn(current, pp.path.sub)];
      else current[keyIn(current, pp.path.sub)] = value;
      resource[key] = current;
      return;
    }
    if (op === 'remove') resource[key] = null;
    else if (isObject(value)) resource[key] = { ...current, ...value };
    else throw new ScimInputError('invalidValue', `${def.name} takes an object`);
    return;
  }
  let list: unknown[] = Array.isArray(resource[key]) ? [...(resource[key] as unknown[])] : [];
  const sub = pp.subAfterFilter ?? pp.path.sub;
  if (pp.filter) {
    const filter = pp.filter;
    let hits = list.map((item, i) => (isObject(item) && matches(item, filter) ? i : -1)).filter((i) => i >= 0);
    if (op === 'remove') {
      if (sub) for (const i of hits) delete (list[i] as Json)[keyIn(list[i] as Json, sub)];
      else list = list.filter((_, i) => !hits.includes(i));
      resource[key] = list;
      return;
    }
    if (hits.length === 0) {
      // Entra ID replaces `emails[type eq "work"].value` on a user who has no work email yet: make one.
      const seed = seedOf(filter);
      if (!seed) throw new ScimInputError('noTarget', `no value of ${def.name} matches the path's filter`);
      list.push(seed);
      hits = [list.length - 1];
    }
    for (const i of hits) {
      const item = { ...(list[i] as Json) };
      if (sub) item[keyIn(item, sub)] = value;
      else if (isObject(value)) Object.assign(item, value);
      else throw new ScimInputError('invalidValue', `${def.name}[…] takes an object`);
      list[i] = item;
    }
    resource[key] = list;
    return;
  }
  if (sub) {
    if (op === 'remove') list = list.map((item) => (isObject(item) ? Object.fromEntries(Object.entries(item).filter(([k]) => k.toLowerCase() !== sub.toLowerCase())) : item));
    else if (list.length === 0) list = [{ [sub]: value }];
    else list = list.map((item) => (isObject(item) ? { ...item, [keyIn(item, sub)]: value } : item));
    resource[key] = list;
    return;
  }
  const values = value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];
  if (op === 'remove') {
    // Entra ID's older form names the members to remove in `value`; without one, every value goes.
    resource[key] = values.length ? list.filter((item) => !values.some((v) => sameValue(item, v))) : [];
  } else if (op === 'replace') {
    resource[key] = values;
  } else {
    for (const v of values) if (!list.some((item) => sameValue(item, v))) list.push(v);
    resource[key] = list;
  }
}

/**
 * Applies PatchOp operations to a resource's JSON and returns the changed copy (the caller validates it
 * again with userFromJson / groupFromJson). Without a path, `value` is an object of attribute paths (Okta
 * sends `{"active": false}`, Entra ID `{"name.givenName": "…"}`); `remove` needs a path.
 */
export function applyPatch(resource: Json, attrs: AttrDef[], schema: string, operations: Array<{ op: Op; path: string | null; value: unknown }>): Json {
  const out: Json = { ...resource };
  for (const [i, { op, path, value }] of operations.entries()) {
    if (path) {
      applyOne(out, attrs, schema, op, path, value);
      continue;
    }
    if (op === 'remove') throw new ScimInputError('noTarget', `Operations[${i}]: remove needs a path`);
    if (!isObject(value)) throw new ScimInputError('invalidValue', `Operations[${i}]: without a path, value must be an object of attributes`);
    for (const [attr, v] of Object.entries(value)) {
      // An attribute of another schema given as a whole object (`"urn:…:enterprise:2.0:User": {…}`) is ignored too.
      if (/^urn:/i.test(attr) && !attr.toLowerCase().startsWith(`${schema.toLowerCase()}:`)) continue;
      applyOne(out, attrs, schema, op, attr, v);
    }
  }
  return out;
}
