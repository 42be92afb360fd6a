/**
 * SCIM filters and attribute paths (RFC 7644 §3.4.2.2, §3.5.2): parsed into a small tree, evaluated against a
 * resource as we render it. Pure: no store, no HTTP.
 *
 *   filter    = orExpr ; orExpr = andExpr *("or" andExpr) ; andExpr = unary *("and" unary)
 *   unary     = "not" "(" filter ")" / "(" filter ")" / attrPath "[" filter "]" / attrPath "pr" / attrPath op value
 *   attrPath  = [schema URN ":"] name ["." subAttr]
 *   value     = JSON string / number / true / false / null
 *
 * Attribute names and operators are case-insensitive. Entra ID's documentation shows unquoted values
 * (`externalId eq jyoung`): a bare word where a value belongs is taken as that string.
 */
export class ScimFilterError extends Error {
  override readonly name = 'ScimFilterError';
}

type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';
type Scalar = string | number | boolean | null;

interface AttrPath {
  /** The schema URN it was written with, if any (`urn:ietf:params:scim:schemas:core:2.0:User`). */
  schema: string | null;
  attr: string;
  sub: string | null;
}

export type Filter =
  | { type: 'compare'; path: AttrPath; op: CompareOp; value: Scalar }
  | { type: 'present'; path: AttrPath }
  | { type: 'and' | 'or'; left: Filter; right: Filter }
  | { type: 'not'; filter: Filter }
  /** `emails[type eq "work"]`: some value of a multi-valued attribute matches the inner filter. */
  | { type: 'valuePath'; path: AttrPath; filter: Filter };

const OPS = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']);
const MAX_FILTER_LENGTH = 4096;
const MAX_DEPTH = 16;

type Token = { kind: 'word'; text: string } | { kind: 'string'; text: string } | { kind: 'punct'; text: '(' | ')' | '[' | ']' };

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '(' || c === ')' || c === '[' || c === ']') {
      tokens.push({ kind: 'punct', text: c });
      i++;
    } else if (c === '"') {
      // A JSON string: find its end (a quote not escaped), then let JSON decode the escapes.
      let j = i + 1;
      while (j < input.length && input[j] !== '"') j += input[j] === '\\' ? 2 : 1;
      if (j >= input.length) throw new ScimFilterError('a string value is not closed with "');
      try {
        tokens.push({ kind: 'string', text: JSON.parse(input.slice(i, j + 1)) as string });
      } catch {
        throw new ScimFilterError(`the string ${input.slice(i, Math.min(j + 1, i + 40))} has an invalid escape`);
      }
      i = j + 1;
    } else {
      let j = i;
      while (j < input.length && !' \t\n\r()[]"'.includes(input[j]!)) j++;
      tokens.push({ kind: 'word', text: input.slice(i, j) });
      i = j;
    }
  }
  return tokens;
}

/** `name`, `name.sub`, or either behind a schema URN (`urn:…:User:userName`, `urn:…:enterprise:2.0:User:manager.value`). */
function parseAttrPath(text: string): AttrPath {
  let schema: string | null = null;
  let rest = text;
  if (/^urn:/i.test(text)) {
    const at = text.lastIndexOf(':');
    schema = text.slice(0, at);
    rest = text.slice(at + 1);
  }
  const match = /^([A-Za-z$][\w$-]*)(?:\.([A-Za-z$][\w$-]*))?$/.exec(rest);
  if (!match) throw new ScimFilterError(`"${text.slice(0, 100)}" is not an attribute path`);
  return { schema, attr: match[1]!, sub: match[2] ?? null };
}

class Parser {
  private pos = 0;
  private depth = 0;
  private readonly tokens: Token[];
  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  parse(): Filter {
    const filter = this.or();
    if (this.pos < this.tokens.length) throw new ScimFilterError(`unexpected "${this.tokens[this.pos]!.text}" after the filter`);
    return filter;
  }

  private peekWord(word: string): boolean {
    const t = this.tokens[this.pos];
    return !!t && t.kind === 'word' && t.text.toLowerCase() === word;
  }

  private expect(text: '(' | ')' | '[' | ']'): void {
    const t = this.tokens[this.pos];
    if (!t || t.kind !== 'punct' || t.text !== text) throw new ScimFilterError(`expected "${text}"${t ? ` before "${t.text}"` : ' at the end'}`);
    this.pos++;
  }

  private nested<T>(parse: () => T): T {
    if (++this.depth > MAX_DEPTH) throw new ScimFilterError(`the filter nests deeper than ${MAX_DEPTH} levels`);
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  private or(): Filter {
    let left = this.and();
    while (this.peekWord('or')) {
      this.pos++;
      left = { type: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): Filter {
    let left = this.unary();
    while (this.peekWord('and')) {
      this.pos++;
      left = { type: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): Filter {
    const t = this.tokens[this.pos];
    if (!t) throw new ScimFilterError('the filter ends where an expression was expected');
    if (t.kind === 'word' && t.text.toLowerCase() === 'not') {
      this.pos++;
      this.expect('(');
      const filter = this.nested(() => this.or());
      this.expect(')');
      return { type: 'not', filter };
    }
    if (t.kind === 'punct' && t.text === '(') {
      this.pos++;
      const filter = this.nested(() => this.or());
      this.expect(')');
      return filter;
    }
    if (t.kind !== 'word') throw new ScimFilterError(`expected an attribute name, found "${t.text}"`);
    this.pos++;
    const path = parseAttrPath(t.text);
    const next = this.tokens[this.pos];
    if (next?.kind === 'punct' && next.text === '[') {
      this.pos++;
      const filter = this.nested(() => this.or());
      this.expect(']');
      return { type: 'valuePath', path, filter };
    }
    if (!next || next.kind !== 'word') throw new ScimFilterError(`expected an operator after ${t.text}`);
    const op = next.text.toLowerCase();
    this.pos++;
    if (op === 'pr') return { type: 'present', path };
    if (!OPS.has(op)) throw new ScimFilterError(`"${next.text}" is not a filter operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)`);
    const value = this.tokens[this.pos];
    if (!value || value.kind === 'punct') throw new ScimFilterError(`expected a value after ${t.text} ${next.text}`);
    this.pos++;
    return { type: 'compare', path, op: op as CompareOp, value: value.kind === 'string' ? value.text : scalarOf(value.text) };
  }
}

function scalarOf(word: string): Scalar {
  const lower = word.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  if (lower === 'null') return null;
  if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(word)) return Number(word);
  return word;
}

export function parseFilter(text: string): Filter {
  if (text.length > MAX_FILTER_LENGTH) throw new ScimFilterError(`the filter is longer than ${MAX_FILTER_LENGTH} characters`);
  const tokens = tokenize(text);
  if (tokens.length === 0) throw new ScimFilterError('the filter is empty');
  return new Parser(tokens).parse();
}

/**
 * A PATCH path (RFC 7644 §3.5.2): `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`, each possibly behind
 * a schema URN.
 */
export interface PatchPath {
  path: AttrPath;
  filter: Filter | null;
  /** The sub-attribute after a value filter: `emails[type eq "work"].value`. */
  subAfterFilter: string | null;
}

export function parsePatchPath(text: string): PatchPath {
  if (text.length > MAX_FILTER_LENGTH) throw new ScimFilterError(`the path is longer than ${MAX_FILTER_LENGTH} characters`);
  const open = text.indexOf('[');
  if (open === -1) return { path: parseAttrPath(text.trim()), filter: null, subAfterFilter: null };
  const close = text.lastIndexOf(']');
  if (close < open) throw new ScimFilterError('the path opens "[" without closing it');
  const after = text.slice(close + 1);
  const sub = /^\.([A-Za-z$][\w$-]*)$/.exec(after);
  if (after && !sub) throw new ScimFilterError(`"${after.slice(0, 60)}" after "]" is not a sub-attribute`);
  return { path: parseAttrPath(text.slice(0, open).trim()), filter: parseFilter(text.slice(open + 1, close)), subAfterFilter: sub?.[1] ?? null };
}

/** The member of an object whose name matches case-insensitively (SCIM attribute names are). */
export function member(obj: unknown, name: string): unknown {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return undefined;
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(obj)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

/**
 * Attributes compared exactly; every other string compares case-insensitively (RFC 7643 caseExact: userName,
 * emails and displayName are not case-exact; our ids are lower-case, so a member id compares either way).
 */
const CASE_EXACT = new Set(['id', 'externalid']);

function valuesAt(resource: unknown, path: AttrPath): unknown[] {
  const top = member(resource, path.attr);
  const items = Array.isArray(top) ? top : top === undefined || top === null ? [] : [top];
  if (path.sub) return items.map((item) => member(item, path.sub!)).filter((v) => v !== undefined && v !== null);
  // A multi-valued complex attribute without a sub-attribute compares its `value` (RFC 7643 §2.4).
  return items.map((item) => (typeof item === 'object' && item !== null ? member(item, 'value') : item)).filter((v) => v !== undefined && v !== null);
}

function compare(actual: unknown, op: CompareOp, expected: Scalar, caseExact: boolean): boolean {
  if (expected === null) return op === 'eq' ? actual === null : op === 'ne' ? actual !== null : false;
  if (typeof expected === 'boolean' || typeof actual === 'boolean') {
    const a = typeof actual === 'string' ? actual.toLowerCase() === 'true' : actual;
    if (op === 'eq') return a === expected;
    if (op === 'ne') return a !== expected;
    return false;
  }
  if (typeof expected === 'number' && typeof actual === 'number') {
    switch (op) {
      case 'eq': return actual === expected;
      case 'ne': return actual !== expected;
      case 'gt': return actual > expected;
      case 'ge': return actual >= expected;
      case 'lt': return actual < expected;
      case 'le': return actual <= expected;
      default: return false;
    }
  }
  const norm = (v: string) => (caseExact ? v : v.toLowerCase());
  const a = norm(String(actual));
  const e = norm(String(expected));
  switch (op) {
    case 'eq': return a === e;
    case 'ne': return a !== e;
    case 'co': return a.includes(e);
    case 'sw': return a.startsWith(e);
    case 'ew': return a.endsWith(e);
    case 'gt': return a > e;
    case 'ge': return a >= e;
    case 'lt': return a < e;
    case 'le': return a <= e;
  }
}

/** Whether a rendered resource (or one value of a multi-valued attribute, inside `[…]`) matches the filter. */
export function matches(resource: unknown, filter: Filter): boolean {
  switch (filter.type) {
    case 'and': return matches(resource, filter.left) && matches(resource, filter.right);
    case 'or': return matches(resource, filter.left) || matches(resource, filter.right);
    case 'not': return !matches(resource, filter.filter);
    case 'present': return valuesAt(resource, filter.path).some((v) => v !== '' && !(Array.isArray(v) && v.length === 0));
    case 'valuePath': {
      const top = member(resource, filter.path.attr);
      const items = Array.isArray(top) ? top : top === undefined || top === null ? [] : [top];
      return items.some((item) => matches(item, filter.filter));
    }
    case 'compare': {
      const values = valuesAt(resource, filter.path);
      const caseExact = !filter.path.sub && CASE_EXACT.has(filter.path.attr.toLowerCase());
      // `ne` holds when no value equals; the others when some value satisfies them.
      if (filter.op === 'ne') return !values.some((v) => compare(v, 'eq', filter.value, caseExact));
      return values.some((v) => compare(v, filter.op, filter.value, caseExact));
    }
  }
}

/** Every attribute path a filter names (outside and inside value filters), to check against what is filterable. */
export function attributesOf(filter: Filter, prefix = ''): string[] {
  switch (filter.type) {
    case 'and':
    case 'or': return [...attributesOf(filter.left, prefix), ...attributesOf(filter.right, prefix)];
    case 'not': return attributesOf(filter.filter, prefix);
    case 'valuePath': return attributesOf(filter.filter, `${filter.path.attr}.`);
    case 'present':
    case 'compare': return [`${prefix}${filter.path.attr}${filter.path.sub ? `.${filter.path.sub}` : ''}`];
  }
}

/** `userName eq "x"` (alone): the one filter answered from an index instead of a scan. */
export function equalityOn(filter: Filter, attr: string): string | undefined {
  if (filter.type !== 'compare' || filter.op !== 'eq' || filter.path.sub || filter.path.attr.toLowerCase() !== attr.toLowerCase()) return undefined;
  return typeof filter.value === 'string' ? filter.value : undefined;
}
