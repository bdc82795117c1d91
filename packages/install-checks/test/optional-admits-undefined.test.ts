import { realpathSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { publicPackages, ROOT } from './public-packages.js';

// Under `exactOptionalPropertyTypes` a property declared `x?: T` may be left out but not given
// `undefined`, so an application handing on a setting it may not have (`{ timeoutMs:
// cfg.timeoutMs }`) fails to compile against it. Skein reads an undefined option as one left out,
// so each optional field of the options users pass is declared to admit it (`?: T | undefined`,
// or core's `OptionalFields<T>` for a nested object of defaults, never `Partial<T>`).
// fixtures/strict-consumer compiles the options users pass most; this walks all of them, so that
// an options type added or changed later cannot miss it.
//
// What counts as options users pass: every interface or type alias a public entry exports whose
// name ends in `Options`, or named in PASSED_BY_USERS, and every object its fields take (each
// member of a union on its own, named or not), followed through unions, arrays,
// records, intersections and a generic's constraint: inline object types, mapped types
// (`Partial<T>`, `OptionalFields<T>`, walked as resolved) and Skein's named interfaces and
// aliases (a cluster's `ServerTypeConfig` and `Member`, a `Filter`, a `Dispatch`), but not
// classes, nor the values Skein makes that a caller hands back untouched (`MADE_BY_SKEIN`), nor a
// type of another package (`@types/node`'s `SpawnOptions` is its own). Left out as well: optional
// methods (`ref?()`), what a function field takes or returns, and the types Skein only hands out
// (`CallInfo`, `ConnInfo`, stats), where `x?: T` costs a reader nothing.

const STRICT_CONSUMER = `${ROOT}packages/install-checks/fixtures/strict-consumer/`;
/** Values Skein makes that a caller passes back as they are, never writes: service()'s and method()'s. */
const MADE_BY_SKEIN = new Set(['ServiceDef', 'MethodDef']);
/**
 * What users write and pass that is not named `…Options`: a transport's conformance input
 * (`transportConformance({ transport, listenAddress })`), a streaming method's schemas
 * (`serverStream({ input })`), an address written as an object (`connect({ host, port }, spec)`,
 * as the docs show). Named, not found by walking every exported function's parameters: those
 * take as many values Skein hands out and gets back (a `CallInfo`, a `Caller`, a peer
 * certificate, a request's internals), each of which would need leaving out by name.
 */
const PASSED_BY_USERS = new Set(['TransportUnderTest', 'StreamSchemas', 'Address', 'HostAddress', 'PathAddress']);
const isPassedByUsers = (name: string): boolean => /Options$/.test(name) || PASSED_BY_USERS.has(name);

/** The strict consumer's program: the public entries read from dist/ as a user gets them, under its settings. */
function consumerProgram(): ts.Program {
  const config = ts.readConfigFile(`${STRICT_CONSUMER}tsconfig.json`, (path) => ts.sys.readFile(path));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, STRICT_CONSUMER);
  if (!parsed.options.exactOptionalPropertyTypes) throw new Error('the strict consumer no longer sets exactOptionalPropertyTypes');
  return ts.createProgram({ rootNames: [`${STRICT_CONSUMER}entries.ts`], options: parsed.options });
}

/** `packages/<dir>/dist/` of each public package, real paths. */
const PUBLISHED_DIRS = publicPackages().map(({ path }) => `${realpathSync(path)}/dist/`);

/** The index in PUBLISHED_DIRS of the package a file is published by, or -1; by file name, read once. */
const publishedBy = new Map<string, number>();
function packageOf(sf: ts.SourceFile): number {
  let index = publishedBy.get(sf.fileName);
  if (index === undefined) {
    const file = realpathSync(sf.fileName);
    index = PUBLISHED_DIRS.findIndex((dir) => file.startsWith(dir));
    publishedBy.set(sf.fileName, index);
  }
  return index;
}

function isPublished(decl: ts.Declaration | undefined): boolean {
  return decl !== undefined && packageOf(decl.getSourceFile()) >= 0;
}

/** Each public entry's module symbol, as entries.ts imports it (`export * as api from '@skein/api'`). */
function entryModules(program: ts.Program, checker: ts.TypeChecker): [string, ts.Symbol][] {
  const entries = program.getSourceFile(`${STRICT_CONSUMER}entries.ts`)!;
  return entries.statements.filter(ts.isExportDeclaration).map((statement) => {
    const from = statement.moduleSpecifier as ts.StringLiteral;
    const specifier = from.text;
    const symbol = checker.getSymbolAtLocation(from);
    if (!symbol) throw new Error(`${specifier} does not resolve`);
    return [specifier, symbol];
  });
}

/**
 * Whether a property's type, read under exactOptionalPropertyTypes, admits an explicit undefined.
 * The checker adds its own "missing" type to an optional property's type, which is not the
 * undefined type itself: only a declared `| undefined` (or any, unknown) puts that one in.
 */
function admitsUndefined(checker: ts.TypeChecker, type: ts.Type): boolean {
  if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return true;
  if (type === checker.getUndefinedType()) return true;
  if (type.isUnion()) return type.types.some((t) => admitsUndefined(checker, t));
  const constraint = type.flags & ts.TypeFlags.TypeParameter ? checker.getBaseConstraintOfType(type) : undefined;
  return constraint !== undefined && constraint !== type && admitsUndefined(checker, constraint);
}

/** The object types a field's type holds that are options too (see the comment at the top). */
function nestedOptions(checker: ts.TypeChecker, type: ts.Type): ts.Type[] {
  if (type.flags & ts.TypeFlags.TypeParameter) {
    const constraint = checker.getBaseConstraintOfType(type);
    return constraint && constraint !== type ? nestedOptions(checker, constraint) : [];
  }
  if (type.isUnion() && !named(checker, type)) return type.types.flatMap((t) => nestedOptions(checker, t));
  if (type.isIntersection()) return [type];
  if (!(type.flags & ts.TypeFlags.Object) && !type.isUnion()) return [];
  if (checker.isArrayType(type) || checker.isTupleType(type)) return checker.getTypeArguments(type as ts.TypeReference).flatMap((t) => nestedOptions(checker, t));
  if (type.getCallSignatures().length > 0 || type.getConstructSignatures().length > 0) return [];
  const indexed = checker.getIndexInfosOfType(type).flatMap((info) => nestedOptions(checker, info.type));
  const symbol = named(checker, type);
  if (symbol === undefined) return [type, ...indexed];
  if (symbol.flags & ts.SymbolFlags.Class || MADE_BY_SKEIN.has(symbol.name)) return indexed;
  const isMapped = ((type as ts.ObjectType).objectFlags & ts.ObjectFlags.Mapped) !== 0;
  return isMapped || isPublished(symbol.declarations?.[0]) ? [type, ...indexed] : indexed;
}

/**
 * The name a type is declared under (an interface, a class, an alias), or undefined for an inline
 * one. A member of an aliased union (`type Address = { host… } | { path… }`) keeps its alias's
 * name, which the checker drops once the union is flattened into another (`string | Address`).
 */
function named(checker: ts.TypeChecker, type: ts.Type): ts.Symbol | undefined {
  if (type.aliasSymbol) return type.aliasSymbol;
  const objectFlags = type.flags & ts.TypeFlags.Object ? (type as ts.ObjectType).objectFlags : 0;
  if (!(objectFlags & (ts.ObjectFlags.Anonymous | ts.ObjectFlags.Mapped))) return type.getSymbol();
  let at: ts.Node | undefined = type.getSymbol()?.declarations?.[0]?.parent;
  while (at && (ts.isUnionTypeNode(at) || ts.isParenthesizedTypeNode(at))) at = at.parent;
  return at && ts.isTypeAliasDeclaration(at) ? checker.getSymbolAtLocation(at.name) : undefined;
}

/** `Options.field.nested (file)` for each optional field, in the options walked from `root`, that refuses undefined. */
function refusingUndefinedIn(checker: ts.TypeChecker, rootName: string, root: ts.Type, seen: Set<ts.Type>): string[] {
  const found: string[] = [];
  const walk = (type: ts.Type, path: string): void => {
    if (seen.has(type)) return;
    seen.add(type);
    // A named union (`type U = { kind: 'a'; x?: number } | { kind: 'b' }`) is reached whole, and
    // its properties would be only those its members share: each member is walked instead.
    if (type.isUnion()) {
      for (const member of type.types) for (const nested of nestedOptions(checker, member)) walk(nested, path);
      return;
    }
    for (const prop of checker.getPropertiesOfType(type)) {
      const decl = prop.valueDeclaration ?? prop.declarations?.[0];
      if (decl && (ts.isMethodSignature(decl) || ts.isMethodDeclaration(decl))) continue;
      const propType = checker.getTypeOfSymbol(prop);
      if (prop.flags & ts.SymbolFlags.Optional && !admitsUndefined(checker, propType)) {
        found.push(`${path}.${prop.name} (${decl ? where(decl) : 'mapped'})`);
      }
      for (const nested of nestedOptions(checker, checker.getNonNullableType(propType))) walk(nested, `${path}.${prop.name}`);
    }
  };
  walk(root, rootName);
  return found;
}

function where(decl: ts.Declaration): string {
  return realpathSync(decl.getSourceFile().fileName).slice(realpathSync(`${ROOT}packages`).length + 1);
}

/** Every options field of every public entry that refuses an explicit undefined, sorted. */
function refusingUndefined(program: ts.Program): string[] {
  const checker = program.getTypeChecker();
  const found = new Set<string>();
  for (const [, entry] of entryModules(program, checker)) {
    for (const exported of checker.getExportsOfModule(entry)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      if (!isPassedByUsers(exported.name) || !(symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias))) continue;
      for (const line of refusingUndefinedIn(checker, exported.name, checker.getDeclaredTypeOfSymbol(symbol), new Set())) found.add(line);
    }
  }
  return [...found].sort();
}

describe('the options types of the public entries', () => {
  it('admit undefined in every optional field, as exactOptionalPropertyTypes callers hand on settings they may not have', () => {
    const program = consumerProgram();
    const checker = program.getTypeChecker();
    // The walk reads what is published: every public package's entry, and options found in them.
    const reached = new Set(program.getSourceFiles().map(packageOf));
    expect(publicPackages().filter((_, i) => !reached.has(i)).map(({ dir }) => dir)).toEqual([]);
    expect(entryModules(program, checker).length).toBe(publicPackages().length);
    expect(refusingUndefined(program)).toEqual([]);
  });
});
