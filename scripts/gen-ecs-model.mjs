#!/usr/bin/env node
// Generates src/api/ecs/model.generated.ts, Berth's copy of the ECS API model,
// from the installed @aws-sdk/client-ecs package (run: npm run gen:model).
//
// Two artefacts of that package are combined, each for what it states exactly:
//   - the runtime schema in dist-cjs/index.js: every operation, its input and
//     output structure, every structure/union/list/map, member targets, which
//     members are required, the sensitive trait, timestamp/blob/document kinds;
//   - the declarations in dist-types/models/*.d.ts, read with the TypeScript
//     compiler API: member order as the service model declares it, and which
//     string members (or list/map elements) are enums, with the enum values from
//     models/enums.d.ts.
// The two are cross-checked (same structures, same members, same required
// members); any disagreement or unknown construct aborts the generation rather
// than emitting a model that is silently wrong.
//
// Numbers: the SDK collapses byte/short/integer/long/float/double into one
// "numeric" schema and `number` declarations, so every numeric member is emitted
// as type 'number'. The model format and the validator also know 'integer',
// 'long', 'float' and 'double' for a source that states them.
//
// Output is deterministic: shapes and operations sorted by name, members in
// declaration order, no timestamps; the header names the package version.

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const outFile = join(repoRoot, 'src/api/ecs/model.generated.ts');
const require = createRequire(join(repoRoot, 'package.json'));

const PKG = '@aws-sdk/client-ecs';
const cjsEntry = require.resolve(PKG);
const pkgDir = findPackageDir(cjsEntry);
const pkgVersion = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;
const sdk = require(cjsEntry);

function findPackageDir(file) {
  let dir = dirname(file);
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (pkg.name === PKG) return dir;
    } catch {
      // not a package root; keep climbing
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the ${PKG} package root from ${file}`);
    dir = parent;
  }
}

function fail(message) {
  throw new Error(`gen-ecs-model: ${message}`);
}

// ---------------------------------------------------------------------------
// Declarations (dist-types) read with the TypeScript compiler API.
// ---------------------------------------------------------------------------

/** enum type name -> values in declaration order */
const enums = new Map();
/** interface name -> [{ name, optional, type: ts.TypeNode }] in declaration order */
const interfaces = new Map();
/** union type name -> [{ name, type: ts.TypeNode }] in declaration order */
const unionDecls = new Map();

function parseDeclarations(file) {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  for (const stmt of sf.statements) {
    if (ts.isVariableStatement(stmt)) {
      // export declare const NetworkMode: { readonly AWSVPC: "awsvpc"; ... };
      for (const decl of stmt.declarationList.declarations) {
        if (!ts.isIdentifier(decl.name) || !decl.type || !ts.isTypeLiteralNode(decl.type)) continue;
        const values = [];
        for (const m of decl.type.members) {
          if (!ts.isPropertySignature(m) || !m.type || !ts.isLiteralTypeNode(m.type)) {
            fail(`${decl.name.text} in ${file} is not an enum of literals`);
          }
          if (!ts.isStringLiteral(m.type.literal)) fail(`${decl.name.text} has a non-string enum value`);
          values.push(m.type.literal.text);
        }
        enums.set(decl.name.text, values);
      }
    } else if (ts.isInterfaceDeclaration(stmt)) {
      interfaces.set(stmt.name.text, interfaceMembers(stmt));
    } else if (ts.isModuleDeclaration(stmt) && stmt.body && ts.isModuleBlock(stmt.body)) {
      // export declare namespace GatewayConfiguration { interface HostSharedAlbMember {...} ... }
      const variants = [];
      for (const inner of stmt.body.statements) {
        if (!ts.isInterfaceDeclaration(inner)) continue;
        const name = inner.name.text;
        if (name === '$UnknownMember' || name === 'Visitor') continue;
        const present = interfaceMembers(inner).filter((m) => m.name !== '$unknown' && !isNever(m.type));
        if (present.length !== 1) fail(`union variant ${stmt.name.text}.${name} has ${present.length} members`);
        variants.push({ name: present[0].name, type: present[0].type });
      }
      unionDecls.set(stmt.name.text, variants);
    }
  }
}

function interfaceMembers(decl) {
  const members = [];
  for (const m of decl.members) {
    if (!ts.isPropertySignature(m) || !m.type) continue;
    const name = ts.isIdentifier(m.name) || ts.isStringLiteral(m.name) ? m.name.text : fail(`odd member name in ${decl.name.text}`);
    members.push({ name, optional: Boolean(m.questionToken), type: m.type });
  }
  return members;
}

function isNever(node) {
  return node.kind === ts.SyntaxKind.NeverKeyword;
}

/** The declared type without `| undefined`. */
function stripUndefined(node) {
  if (!ts.isUnionTypeNode(node)) return node;
  const rest = node.types.filter((t) => t.kind !== ts.SyntaxKind.UndefinedKeyword && !(ts.isLiteralTypeNode(t) && t.literal.kind === ts.SyntaxKind.NullKeyword));
  if (rest.length !== 1) fail(`unexpected union type ${node.getText()}`);
  return rest[0];
}

/** If the node names an enum type, its name. */
function enumName(node) {
  const n = stripUndefined(node);
  if (ts.isTypeReferenceNode(n) && ts.isIdentifier(n.typeName) && !n.typeArguments && enums.has(n.typeName.text)) {
    return n.typeName.text;
  }
  return undefined;
}

function elementTypeNode(node) {
  const n = stripUndefined(node);
  if (ts.isArrayTypeNode(n)) return n.elementType;
  fail(`expected an array type, got ${n.getText()}`);
}

/** [keyNode, valueNode] of Record<K, V> or Partial<Record<K, V>>. */
function recordTypeNodes(node) {
  let n = stripUndefined(node);
  if (ts.isTypeReferenceNode(n) && ts.isIdentifier(n.typeName) && n.typeName.text === 'Partial' && n.typeArguments?.length === 1) {
    n = n.typeArguments[0];
  }
  if (ts.isTypeReferenceNode(n) && ts.isIdentifier(n.typeName) && n.typeName.text === 'Record' && n.typeArguments?.length === 2) {
    return [n.typeArguments[0], n.typeArguments[1]];
  }
  fail(`expected a Record type, got ${n.getText()}`);
}

const modelsDir = join(pkgDir, 'dist-types/models');
for (const f of readdirSync(modelsDir).filter((f) => f.endsWith('.d.ts')).sort()) parseDeclarations(join(modelsDir, f));
if (enums.size === 0 || interfaces.size === 0) fail(`no declarations found under ${modelsDir}`);

// Commands as declared: dist-types/commands/<Op>Command.d.ts with <Op>CommandInput extends <InputShape>.
const declaredCommands = new Map();
const commandsDir = join(pkgDir, 'dist-types/commands');
for (const f of readdirSync(commandsDir).filter((f) => /Command\.d\.ts$/.test(f)).sort()) {
  const op = f.slice(0, -'Command.d.ts'.length);
  const sf = ts.createSourceFile(f, readFileSync(join(commandsDir, f), 'utf8'), ts.ScriptTarget.ES2022, true);
  const io = {};
  for (const stmt of sf.statements) {
    if (!ts.isInterfaceDeclaration(stmt)) continue;
    const base = stmt.heritageClauses?.[0]?.types[0]?.expression;
    if (stmt.name.text === `${op}CommandInput`) io.input = base && ts.isIdentifier(base) ? base.text : 'Unit';
    if (stmt.name.text === `${op}CommandOutput`) io.output = base && ts.isIdentifier(base) ? base.text : 'Unit';
  }
  if (!io.input || !io.output) fail(`cannot read the input/output types of ${f}`);
  declaredCommands.set(op, io);
}

// ---------------------------------------------------------------------------
// Runtime schema (dist-cjs) walk.
// ---------------------------------------------------------------------------

// Static schema ids and simple schema codes (@smithy/types static-schemas.d.ts, sentinels.d.ts).
const ID = { simple: 0, list: 1, map: 2, struct: 3, union: 4, error: -3, operation: 9 };
const LIST_MODIFIER = 0b0100_0000;
const MAP_MODIFIER = 0b1000_0000;
const SIMPLE = new Map([
  [0b0000_0000, 'String'],
  [0b0000_0001, 'Number'],
  [0b0000_0010, 'Boolean'],
  [0b0000_0100, 'Timestamp'],
  [0b0000_0101, 'Timestamp'],
  [0b0000_0110, 'Timestamp'],
  [0b0000_0111, 'Timestamp'],
  [0b0000_1111, 'Document'],
  [0b0001_0101, 'Blob'],
]);
const SIMPLE_SHAPES = {
  String: { type: 'string' },
  Number: { type: 'number' },
  Boolean: { type: 'boolean' },
  Timestamp: { type: 'timestamp' },
  Document: { type: 'document' },
  Blob: { type: 'blob' },
};
const SENSITIVE_TRAIT = 0b0000_1000;

/** name -> shape (the emitted model) */
const shapes = new Map();
/** runtime schema object -> emitted name, to detect two schemas with one name */
const schemaNames = new Map();

function isSensitive(traits) {
  return typeof traits === 'number' ? (traits & SENSITIVE_TRAIT) !== 0 : Boolean(traits && traits.sensitive);
}

function defineShape(name, shape) {
  const existing = shapes.get(name);
  if (existing) {
    if (JSON.stringify(existing) !== JSON.stringify(shape)) fail(`two different shapes named ${name}`);
    return name;
  }
  shapes.set(name, shape);
  return name;
}

/** Splits a member reference into [schemaRef, memberTraits]. */
function splitMemberRef(ref) {
  if (Array.isArray(ref) && ref.length === 2 && (typeof ref[0] === 'function' || typeof ref[0] === 'number')) {
    return [ref[0], ref[1]];
  }
  return [ref, 0];
}

/**
 * The emitted target name for a runtime schema reference. `decl` is the
 * declared TypeScript type of the member (undefined for list/map elements of
 * named runtime lists), used to find enums.
 */
function targetOf(ref, decl, where) {
  if (typeof ref === 'function') ref = ref();
  if (typeof ref === 'number') return simpleTarget(ref, decl, where);
  if (ref === 'unit') return defineShape('Unit', { type: 'structure', members: {} });
  if (!Array.isArray(ref)) fail(`unexpected schema reference at ${where}: ${String(ref)}`);

  const known = schemaNames.get(ref);
  if (known) return known;
  const [id, , name, traits] = ref;
  if (typeof name !== 'string') fail(`schema without a name at ${where}`);
  if (shapes.has(name) && id !== ID.simple) fail(`two different shapes named ${name}`);
  switch (id) {
    case ID.simple: {
      // A named simple shape such as SensitiveString: [0, ns, name, traits, code]
      const base = SIMPLE.get(ref[4]);
      if (!base) fail(`unsupported simple schema ${name} (${ref[4]})`);
      const shape = { ...SIMPLE_SHAPES[base] };
      const en = decl && base === 'String' ? enumName(decl) : undefined;
      if (en) shape.enum = enums.get(en);
      if (isSensitive(traits)) shape.sensitive = true;
      schemaNames.set(ref, name);
      return defineShape(name, shape);
    }
    case ID.list: {
      schemaNames.set(ref, name);
      shapes.set(name, { type: 'list', member: '' }); // placeholder for recursion
      const [memberRef] = splitMemberRef(ref[4]);
      const member = targetOf(memberRef, decl ? elementTypeNode(decl) : undefined, `${name}.member`);
      shapes.set(name, { type: 'list', member });
      return name;
    }
    case ID.map: {
      schemaNames.set(ref, name);
      shapes.set(name, { type: 'map', key: '', value: '' });
      const [keyDecl, valueDecl] = decl ? recordTypeNodes(decl) : [undefined, undefined];
      const key = targetOf(splitMemberRef(ref[4])[0], keyDecl, `${name}.key`);
      const value = targetOf(splitMemberRef(ref[5])[0], valueDecl, `${name}.value`);
      shapes.set(name, { type: 'map', key, value });
      return name;
    }
    case ID.struct:
    case ID.union:
      return aggregate(ref);
    default:
      fail(`unsupported schema id ${id} for ${name} at ${where}`);
  }
}

function simpleTarget(code, decl, where) {
  if (code & LIST_MODIFIER) {
    const elemDecl = decl ? elementTypeNode(decl) : undefined;
    const member = simpleTarget(code & ~LIST_MODIFIER, elemDecl, `${where}.member`);
    return defineShape(`List<${member}>`, { type: 'list', member });
  }
  if (code & MAP_MODIFIER) {
    const [keyDecl, valueDecl] = decl ? recordTypeNodes(decl) : [undefined, undefined];
    const key = simpleTarget(0, keyDecl, `${where}.key`);
    const value = simpleTarget(code & ~MAP_MODIFIER, valueDecl, `${where}.value`);
    return defineShape(`Map<${key},${value}>`, { type: 'map', key, value });
  }
  const base = SIMPLE.get(code);
  if (!base) fail(`unsupported simple schema code ${code} at ${where}`);
  const en = decl && base === 'String' ? enumName(decl) : undefined;
  if (en) return defineShape(en, { type: 'string', enum: enums.get(en) });
  return defineShape(base, SIMPLE_SHAPES[base]);
}

/** Structures and unions: runtime members cross-checked with the declarations. */
function aggregate(schema) {
  const [id, , name, traits, memberNames, memberRefs, requiredCount = 0] = schema;
  const isUnion = id === ID.union;
  schemaNames.set(schema, name);
  shapes.set(name, { type: isUnion ? 'union' : 'structure', members: {} }); // placeholder for recursion

  const declared = isUnion ? unionDecls.get(name) : interfaces.get(name);
  if (!declared) fail(`${name} is in the runtime schema but not declared in dist-types`);
  const runtime = new Map(memberNames.map((m, i) => [m, { ref: memberRefs[i], required: !isUnion && i < requiredCount }]));
  const declaredNames = declared.map((m) => m.name);
  if (declaredNames.length !== runtime.size || declaredNames.some((m) => !runtime.has(m))) {
    fail(`${name}: runtime members [${memberNames}] differ from declared members [${declaredNames}]`);
  }

  const members = {};
  for (const d of declared) {
    const rt = runtime.get(d.name);
    if (!isUnion && rt.required === d.optional) {
      fail(`${name}.${d.name}: runtime says ${rt.required ? '' : 'not '}required, declaration says otherwise`);
    }
    const [ref, memberTraits] = splitMemberRef(rt.ref);
    const member = { target: targetOf(ref, d.type, `${name}.${d.name}`) };
    if (rt.required) member.required = true;
    if (isSensitive(memberTraits)) member.sensitive = true;
    members[d.name] = member;
  }
  const shape = { type: isUnion ? 'union' : 'structure', members };
  if (isSensitive(traits)) shape.sensitive = true;
  shapes.set(name, shape);
  return name;
}

// ---------------------------------------------------------------------------
// Operations.
// ---------------------------------------------------------------------------

const operations = new Map();
const runtimeCommands = Object.keys(sdk).filter((k) => /^[A-Z]\w*Command$/.test(k) && typeof sdk[k] === 'function');
for (const exportName of runtimeCommands.sort()) {
  const op = exportName.slice(0, -'Command'.length);
  const schema = sdk[`${op}$`];
  if (!Array.isArray(schema) || schema[0] !== ID.operation || schema[2] !== op) fail(`no operation schema for ${op}`);
  const input = targetOf(schema[4], undefined, `${op} input`);
  const output = targetOf(schema[5], undefined, `${op} output`);
  const declaredIo = declaredCommands.get(op);
  if (!declaredIo) fail(`${op} is exported at runtime but has no dist-types/commands/${op}Command.d.ts`);
  if (declaredIo.input !== input || declaredIo.output !== output) {
    fail(`${op}: runtime io ${input}/${output} differs from declared ${declaredIo.input}/${declaredIo.output}`);
  }
  operations.set(op, { input, output });
}
for (const op of declaredCommands.keys()) if (!operations.has(op)) fail(`${op} is declared but not exported at runtime`);
if (operations.size === 0) fail('no operations found');

// ---------------------------------------------------------------------------
// Emit.
// ---------------------------------------------------------------------------

const q = (s) => JSON.stringify(s);
const byName = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

function emitShape(name, shape) {
  const head = `  ${q(name)}: `;
  if (shape.type === 'structure' || shape.type === 'union') {
    const entries = Object.entries(shape.members);
    const extra = shape.sensitive ? ', sensitive: true' : '';
    if (entries.length === 0) return `${head}{ type: ${q(shape.type)}, members: {}${extra} },`;
    const lines = entries.map(([m, spec]) => {
      const parts = [`target: ${q(spec.target)}`];
      if (spec.required) parts.push('required: true');
      if (spec.sensitive) parts.push('sensitive: true');
      return `    ${q(m)}: { ${parts.join(', ')} },`;
    });
    return `${head}{ type: ${q(shape.type)}${extra}, members: {\n${lines.join('\n')}\n  } },`;
  }
  const parts = Object.entries(shape).map(([k, v]) => `${k}: ${Array.isArray(v) ? `[${v.map(q).join(', ')}]` : q(v)}`);
  return `${head}{ ${parts.join(', ')} },`;
}

const opNames = [...operations.keys()].sort(byName);
const shapeNames = [...shapes.keys()].sort(byName);
const out = [
  `// Generated by scripts/gen-ecs-model.mjs from ${PKG}@${pkgVersion}. Do not edit: run \`npm run gen:model\`.`,
  '// Operations, shapes, required members and enum values of the Amazon ECS API as that package models it.',
  '',
  "import type { ModelShape, OperationIo } from './model.js';",
  '',
  `export const MODEL_SOURCE = { package: ${q(PKG)}, version: ${q(pkgVersion)} } as const;`,
  '',
  'export type EcsOperationName =',
  ...opNames.map((op, i) => `  | ${q(op)}${i === opNames.length - 1 ? ';' : ''}`),
  '',
  'export const OPERATIONS: Readonly<Record<EcsOperationName, OperationIo>> = {',
  ...opNames.map((op) => `  ${op}: { input: ${q(operations.get(op).input)}, output: ${q(operations.get(op).output)} },`),
  '};',
  '',
  'export const SHAPES: Readonly<Record<string, ModelShape>> = {',
  ...shapeNames.map((n) => emitShape(n, shapes.get(n))),
  '};',
  '',
];
writeFileSync(outFile, out.join('\n'));
console.log(`wrote ${relative(repoRoot, outFile)}: ${operations.size} operations, ${shapes.size} shapes from ${PKG}@${pkgVersion}`);
