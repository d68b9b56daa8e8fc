#!/usr/bin/env node
// Generates src/api/models/<service>.generated.ts, Berth's copy of the API
// model of each AWS service it serves, from the installed @aws-sdk/client-*
// packages. `npm run gen:model` regenerates all; `node scripts/gen-model.mjs ecr sts`
// only the services named.
//
// Four artefacts of each package are combined, each for what it states exactly:
//   - the runtime schema in dist-cjs/index.js: every operation, its input and
//     output structure, every structure/union/list/map, member targets, which
//     members are required, the traits (sensitive, idempotency token, xmlName,
//     xmlFlattened), timestamp/blob/document kinds, and the error shapes with
//     their fault, httpError and awsQueryError traits;
//   - the declarations in dist-types/models/*.d.ts, read with the TypeScript
//     compiler API: member order as the service model declares it, which string
//     members (or list/map elements) are enums with their values
//     (models/enums.d.ts), and the fault each exception class declares;
//   - the client's resolved configuration (a client constructed offline, never
//     called): SDK service id, API version, default protocol and its settings
//     (X-Amz-Target prefix, XML namespace and version), signing name;
//   - the package README's "Supported Message Protocols" section, which lists
//     the protocols a multi-protocol service also speaks, and the endpoint rule
//     set, whose URL templates give the endpoint prefix.
// The schema and the declarations are cross-checked (same structures, same
// members, same required members, same operations and error faults); any
// disagreement, unknown trait, unknown schema kind or unknown protocol aborts
// the generation rather than emitting a model that is silently wrong.
//
// Numbers: the SDK collapses byte/short/integer/long/float/double into one
// "numeric" schema and `number` declarations, so every numeric member is
// emitted as type 'number' (bigInteger/bigDecimal keep their own kinds). The
// model format and the validator also know 'integer', 'long', 'float' and
// 'double' for a source that states them.
//
// Output is deterministic: shapes, errors and operations sorted by name,
// members in declaration order, no timestamps; the header names the package
// version.

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(repoRoot, 'src/api/models');
const require = createRequire(join(repoRoot, 'package.json'));

/** Berth's name for each service -> the SDK package that models it. */
export const SERVICES = {
  acm: '@aws-sdk/client-acm',
  autoscaling: '@aws-sdk/client-application-auto-scaling',
  cloudwatch: '@aws-sdk/client-cloudwatch',
  ecr: '@aws-sdk/client-ecr',
  ecs: '@aws-sdk/client-ecs',
  elbv2: '@aws-sdk/client-elastic-load-balancing-v2',
  iam: '@aws-sdk/client-iam',
  logs: '@aws-sdk/client-cloudwatch-logs',
  secretsmanager: '@aws-sdk/client-secrets-manager',
  ssm: '@aws-sdk/client-ssm',
  sts: '@aws-sdk/client-sts',
};

// Protocol shape ids (client config) and README class names -> model protocol names.
const PROTOCOL_IDS = {
  'aws.protocols#awsJson1_0': 'awsJson1_0',
  'aws.protocols#awsJson1_1': 'awsJson1_1',
  'aws.protocols#awsQuery': 'awsQuery',
  'smithy.protocols#rpcv2Cbor': 'rpcv2Cbor',
};
const PROTOCOL_CLASSES = {
  AwsJson1_0Protocol: 'awsJson1_0',
  AwsJson1_1Protocol: 'awsJson1_1',
  AwsQueryProtocol: 'awsQuery',
  AwsSmithyRpcV2CborProtocol: 'rpcv2Cbor',
};

// Static schema ids and simple schema codes (@smithy/types static-schemas.d.ts, sentinels.d.ts).
const ID = { simple: 0, list: 1, map: 2, struct: 3, union: 4, error: -3, operation: 9 };
const LIST_MODIFIER = 0b0100_0000;
const MAP_MODIFIER = 0b1000_0000;
const SIMPLE = new Map([
  [0b0000_0000, 'String'],
  [0b0000_0001, 'Number'],
  [0b0000_0010, 'Boolean'],
  [0b0000_0100, 'Timestamp'],
  [0b0000_0101, 'DateTime'],
  [0b0000_0110, 'HttpDate'],
  [0b0000_0111, 'EpochSeconds'],
  [0b0000_1111, 'Document'],
  [0b0001_0001, 'BigInteger'],
  [0b0001_0011, 'BigDecimal'],
  [0b0001_0101, 'Blob'],
]);
const SIMPLE_SHAPES = {
  String: { type: 'string' },
  Number: { type: 'number' },
  Boolean: { type: 'boolean' },
  Timestamp: { type: 'timestamp' },
  DateTime: { type: 'timestamp', format: 'date-time' },
  HttpDate: { type: 'timestamp', format: 'http-date' },
  EpochSeconds: { type: 'timestamp', format: 'epoch-seconds' },
  Document: { type: 'document' },
  BigInteger: { type: 'bigInteger' },
  BigDecimal: { type: 'bigDecimal' },
  Blob: { type: 'blob' },
};
// Bit-packed traits, in bit order (@smithy/core schema translateTraits).
const TRAIT_BITS = ['httpLabel', 'idempotent', 'idempotencyToken', 'sensitive', 'httpPayload', 'httpResponseCode', 'httpQueryParams'];
// Traits an RPC protocol model may carry, where each may appear. Anything else aborts.
const MEMBER_TRAITS = new Set(['sensitive', 'idempotencyToken', 'xmlName', 'xmlFlattened']);
const SHAPE_TRAITS = new Set(['sensitive', 'xmlName', 'streaming']);
const ERROR_TRAITS = new Set(['error', 'httpError', 'awsQueryError', 'xmlName']);
const OPERATION_TRAITS = new Set(['idempotent', 'endpoint']);

class GenerationError extends Error {}

/** Generates the model of one service; returns a one-line summary. */
function generate(service, pkg) {
  const fail = (message) => {
    throw new GenerationError(`gen-model ${service} (${pkg}): ${message}`);
  };

  const cjsEntry = require.resolve(pkg);
  const pkgDir = findPackageDir(pkg, cjsEntry);
  const pkgVersion = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;
  const sdk = require(cjsEntry);

  // -------------------------------------------------------------------------
  // Declarations (dist-types) read with the TypeScript compiler API.
  // -------------------------------------------------------------------------

  /** enum type name -> values in declaration order */
  const enums = new Map();
  /** interface name -> [{ name, optional, type: ts.TypeNode }] in declaration order */
  const interfaces = new Map();
  /** union type name -> [{ name, type: ts.TypeNode }] in declaration order */
  const unionDecls = new Map();
  /** exception class name -> { fault, members: [name] } */
  const errorDecls = new Map();

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
      } else if (ts.isClassDeclaration(stmt) && stmt.name) {
        // export declare class ClientException extends __BaseException { readonly name: "ClientException"; readonly $fault: "client"; ... }
        let fault;
        const members = [];
        for (const m of stmt.members) {
          if (!ts.isPropertyDeclaration(m) || !m.name || !(ts.isIdentifier(m.name) || ts.isStringLiteral(m.name))) continue;
          if (m.modifiers?.some((x) => x.kind === ts.SyntaxKind.StaticKeyword)) continue;
          const name = m.name.text;
          if (name === '$fault') {
            if (!m.type || !ts.isLiteralTypeNode(m.type) || !ts.isStringLiteral(m.type.literal)) fail(`${stmt.name.text}.$fault is not a literal`);
            fault = m.type.literal.text;
          } else if (name !== 'name' && !name.startsWith('$')) {
            // $retryable and other $-prefixed properties are SDK behaviour, not model members.
            members.push(name);
          }
        }
        if (fault) errorDecls.set(stmt.name.text, { fault, members });
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
    const rest = node.types.filter(
      (t) => t.kind !== ts.SyntaxKind.UndefinedKeyword && !(ts.isLiteralTypeNode(t) && t.literal.kind === ts.SyntaxKind.NullKeyword),
    );
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
  if (interfaces.size === 0) fail(`no declarations found under ${modelsDir}`);

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
      // `extends __MetadataBearer` alone (or nothing) is the unit shape.
      const shapeName = base && ts.isIdentifier(base) && base.text !== '__MetadataBearer' ? base.text : 'Unit';
      if (stmt.name.text === `${op}CommandInput`) io.input = shapeName;
      if (stmt.name.text === `${op}CommandOutput`) io.output = shapeName;
    }
    if (!io.input || !io.output) fail(`cannot read the input/output types of ${f}`);
    declaredCommands.set(op, io);
  }

  // -------------------------------------------------------------------------
  // Traits.
  // -------------------------------------------------------------------------

  /** Traits as an object, whether bit-packed or literal; unknown ones abort. */
  function traitsOf(indicator, allowed, where) {
    let traits;
    if (indicator === undefined || indicator === 0) return {};
    if (typeof indicator === 'number') {
      traits = {};
      TRAIT_BITS.forEach((name, i) => {
        if ((indicator >> i) & 1) traits[name] = 1;
      });
      if (indicator >> TRAIT_BITS.length) fail(`unknown trait bits ${indicator} at ${where}`);
    } else if (typeof indicator === 'object' && indicator !== null) {
      traits = indicator;
    } else {
      fail(`unexpected traits ${String(indicator)} at ${where}`);
    }
    for (const k of Object.keys(traits)) if (!allowed.has(k)) fail(`unsupported trait ${k} at ${where}`);
    return traits;
  }

  /** The member-level facts the model keeps from member traits. */
  function memberFacts(traits) {
    const facts = {};
    if (traits.sensitive) facts.sensitive = true;
    if (traits.idempotencyToken) facts.idempotencyToken = true;
    if (typeof traits.xmlName === 'string') facts.xmlName = traits.xmlName;
    if (traits.xmlFlattened) facts.xmlFlattened = true;
    return facts;
  }

  // -------------------------------------------------------------------------
  // Runtime schema (dist-cjs) walk.
  // -------------------------------------------------------------------------

  /** name -> shape (the emitted model) */
  const shapes = new Map();
  /** runtime schema object -> emitted name, to detect two schemas with one name */
  const schemaNames = new Map();

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
    const [id, , name, traitIndicator] = ref;
    if (typeof name !== 'string') fail(`schema without a name at ${where}`);
    if (shapes.has(name) && id !== ID.simple) {
      // The same shape inlined twice in the schema: accepted only if both copies agree.
      const existing = shapes.get(name);
      shapes.delete(name);
      targetOf(ref, decl, where);
      if (JSON.stringify(shapes.get(name)) !== JSON.stringify(existing)) fail(`two different shapes named ${name}`);
      shapes.set(name, existing);
      return name;
    }
    switch (id) {
      case ID.simple: {
        // A named simple shape such as SensitiveString: [0, ns, name, traits, code]
        const traits = traitsOf(traitIndicator, SHAPE_TRAITS, name);
        const base = SIMPLE.get(ref[4]);
        if (!base) fail(`unsupported simple schema ${name} (${ref[4]})`);
        const shape = { ...SIMPLE_SHAPES[base] };
        const en = decl && base === 'String' ? enumName(decl) : undefined;
        if (en) shape.enum = enums.get(en);
        if (traits.sensitive) shape.sensitive = true;
        schemaNames.set(ref, name);
        return defineShape(name, shape);
      }
      case ID.list: {
        traitsOf(traitIndicator, SHAPE_TRAITS, name);
        schemaNames.set(ref, name);
        shapes.set(name, { type: 'list', member: '' }); // placeholder for recursion
        const [memberRef, memberTraits] = splitMemberRef(ref[4]);
        const member = targetOf(memberRef, decl ? elementTypeNode(decl) : undefined, `${name}.member`);
        const shape = { type: 'list', member };
        const facts = memberFacts(traitsOf(memberTraits, MEMBER_TRAITS, `${name}.member`));
        if (facts.xmlName) shape.memberName = facts.xmlName;
        shapes.set(name, shape);
        return name;
      }
      case ID.map: {
        traitsOf(traitIndicator, SHAPE_TRAITS, name);
        schemaNames.set(ref, name);
        shapes.set(name, { type: 'map', key: '', value: '' });
        const [keyDecl, valueDecl] = decl ? recordTypeNodes(decl) : [undefined, undefined];
        const [keyRef, keyTraits] = splitMemberRef(ref[4]);
        const [valueRef, valueTraits] = splitMemberRef(ref[5]);
        const key = targetOf(keyRef, keyDecl, `${name}.key`);
        const value = targetOf(valueRef, valueDecl, `${name}.value`);
        const shape = { type: 'map', key, value };
        const keyName = memberFacts(traitsOf(keyTraits, MEMBER_TRAITS, `${name}.key`)).xmlName;
        const valueName = memberFacts(traitsOf(valueTraits, MEMBER_TRAITS, `${name}.value`)).xmlName;
        if (keyName) shape.keyName = keyName;
        if (valueName) shape.valueName = valueName;
        shapes.set(name, shape);
        return name;
      }
      case ID.struct:
      case ID.union:
        return aggregate(ref);
      case ID.error:
        return errorShape(ref);
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
    const [id, , name, traitIndicator, memberNames, memberRefs, requiredCount = 0] = schema;
    const traits = traitsOf(traitIndicator, SHAPE_TRAITS, name);
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
      Object.assign(member, memberFacts(traitsOf(memberTraits, MEMBER_TRAITS, `${name}.${d.name}`)));
      members[d.name] = member;
    }
    const shape = { type: isUnion ? 'union' : 'structure', members };
    if (traits.sensitive) shape.sensitive = true;
    if (traits.streaming) {
      // An event stream (a union of event structures sent one by one).
      if (!isUnion) fail(`${name}: streaming structure`);
      shape.eventStream = true;
    }
    shapes.set(name, shape);
    return name;
  }


  /** An error structure: its members plus fault, HTTP status and awsQuery code, cross-checked with the exception class. */
  function errorShape(schema) {
    const [, , name, traitIndicator, memberNames, memberRefs] = schema;
    const traits = traitsOf(traitIndicator, ERROR_TRAITS, name);
    if (traits.error !== 'client' && traits.error !== 'server') fail(`${name}: fault ${traits.error}`);
    const decl = errorDecls.get(name);
    if (!decl) fail(`${name} is an error at runtime but declares no exception class`);
    if (decl.fault !== traits.error) fail(`${name}: runtime fault ${traits.error}, declared ${decl.fault}`);
    const undeclared = memberNames.filter((m) => !decl.members.includes(m) && m !== 'message' && m !== 'Message');
    const missing = decl.members.filter((m) => !memberNames.includes(m));
    if (undeclared.length || missing.length) fail(`${name}: runtime members [${memberNames}] differ from declared [${decl.members}]`);
    schemaNames.set(schema, name);
    shapes.set(name, { type: 'structure', members: {} }); // placeholder for recursion
    const members = {};
    memberNames.forEach((m, i) => {
      const [ref, memberTraits] = splitMemberRef(memberRefs[i]);
      members[m] = { target: targetOf(ref, undefined, `${name}.${m}`), ...memberFacts(traitsOf(memberTraits, MEMBER_TRAITS, `${name}.${m}`)) };
    });
    const error = { fault: traits.error };
    if (traits.httpError !== undefined) {
      if (!Number.isInteger(traits.httpError)) fail(`${name}: httpError ${traits.httpError}`);
      error.httpStatus = traits.httpError;
    }
    if (traits.awsQueryError !== undefined) {
      const [code, status] = traits.awsQueryError;
      if (typeof code !== 'string' || !Number.isInteger(status)) fail(`${name}: awsQueryError ${JSON.stringify(traits.awsQueryError)}`);
      error.queryCode = code;
      error.queryStatus = status;
    }
    shapes.set(name, { type: 'structure', error, members });
    return name;
  }

  // -------------------------------------------------------------------------
  // Operations.
  // -------------------------------------------------------------------------

  const operations = new Map();
  const runtimeCommands = Object.keys(sdk).filter((k) => /^[A-Z]\w*Command$/.test(k) && typeof sdk[k] === 'function');
  for (const exportName of runtimeCommands.sort()) {
    const op = exportName.slice(0, -'Command'.length);
    const schema = sdk[`${op}$`];
    if (!Array.isArray(schema) || schema[0] !== ID.operation || schema[2] !== op) fail(`no operation schema for ${op}`);
    const traits = traitsOf(schema[3], OPERATION_TRAITS, op);
    const input = targetOf(schema[4], undefined, `${op} input`);
    const output = targetOf(schema[5], undefined, `${op} output`);
    const declaredIo = declaredCommands.get(op);
    if (!declaredIo) fail(`${op} is exported at runtime but has no dist-types/commands/${op}Command.d.ts`);
    if (declaredIo.input !== input || declaredIo.output !== output) {
      fail(`${op}: runtime io ${input}/${output} differs from declared ${declaredIo.input}/${declaredIo.output}`);
    }
    if (shapes.get(input).type !== 'structure') fail(`${op}: input ${input} is not a structure`);
    const spec = { input, output };
    if (traits.idempotent) spec.idempotent = true;
    if (traits.endpoint !== undefined) {
      // @endpoint: the operation is sent to <hostPrefix><endpoint host>.
      const [hostPrefix, ...rest] = traits.endpoint;
      if (typeof hostPrefix !== 'string' || rest.length) fail(`${op}: endpoint trait ${JSON.stringify(traits.endpoint)}`);
      spec.hostPrefix = hostPrefix;
    }
    operations.set(op, spec);
  }
  for (const op of declaredCommands.keys()) if (!operations.has(op)) fail(`${op} is declared but not exported at runtime`);
  if (operations.size === 0) fail('no operations found');

  // -------------------------------------------------------------------------
  // Client configuration: metadata, protocols and errors.
  // -------------------------------------------------------------------------

  const clientName = Object.keys(sdk).filter((k) => /Client$/.test(k) && k !== '__Client' && typeof sdk[k] === 'function');
  if (clientName.length !== 1) fail(`expected one client class, found [${clientName}]`);
  // Constructed offline with fixed dummy values; it is never sent a request.
  // The SDK's warning about the Node.js version is about running it, not about its model.
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  let client;
  try {
    client = new sdk[clientName[0]]({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  } finally {
    process.emitWarning = emitWarning;
  }
  const config = client.config;
  const settings = config.protocolSettings ?? fail('no protocolSettings in the client configuration');
  const str = (v, what) => (typeof v === 'string' && v !== '' ? v : fail(`no ${what} in the client configuration`));

  const defaultProtocol = PROTOCOL_IDS[config.protocol?.getShapeId?.()];
  if (!defaultProtocol) fail(`unknown default protocol ${config.protocol?.getShapeId?.()}`);
  const protocolNames = [defaultProtocol];
  const readme = readFileSync(join(pkgDir, 'README.md'), 'utf8');
  const section = /#### Supported Message Protocols\n([\s\S]*?)\n#### /.exec(readme);
  if (section) {
    for (const [, cls] of section[1].matchAll(/import \{ (\w+) \} from "@aws-sdk\/config\/protocol"/g)) {
      const p = PROTOCOL_CLASSES[cls] ?? fail(`README lists an unknown protocol ${cls}`);
      if (!protocolNames.includes(p)) protocolNames.push(p);
    }
    const declaredDefault = /The default for this client is \*\*(.+?)\*\*/.exec(section[1]);
    if (!declaredDefault) fail('README does not name the default protocol');
  } else if (/Supported Message Protocols/.test(readme)) {
    fail('README has a protocol section this generator cannot read');
  }
  if (settings.awsQueryCompatible === true && !protocolNames.includes('awsQuery')) {
    fail('the client is awsQueryCompatible but the awsQuery protocol is not listed');
  }
  const protocols = protocolNames.map((p) => {
    switch (p) {
      case 'awsJson1_0':
      case 'awsJson1_1':
        return { protocol: p, targetPrefix: str(settings.serviceTarget, 'serviceTarget') };
      case 'awsQuery':
        return { protocol: p, xmlNamespace: str(settings.xmlNamespace, 'xmlNamespace'), version: str(settings.version, 'version') };
      case 'rpcv2Cbor':
        // The request path is /service/<service shape name>/operation/<operation>.
        return { protocol: p, serviceName: str(settings.serviceTarget, 'serviceTarget') };
      default:
        return fail(`unknown protocol ${p}`);
    }
  });
  if (settings.version !== config.apiVersion) fail(`protocol version ${settings.version} differs from apiVersion ${config.apiVersion}`);

  // Endpoint prefix: the host label of the standard (non-FIPS, non-dual-stack) regional URL template.
  const cjsText = readFileSync(cjsEntry, 'utf8');
  const prefixes = new Set(
    [...cjsText.matchAll(/"https:\/\/([a-z0-9.-]+)\.\{(?:Region|PartitionResult#implicitGlobalRegion)\}\.\{PartitionResult#dnsSuffix\}"/g)]
      .map((m) => m[1])
      .filter((p) => !p.endsWith('-fips')),
  );
  if (prefixes.size !== 1) fail(`cannot tell the endpoint prefix from the rule set: [${[...prefixes]}]`);
  const [endpointPrefix] = prefixes;

  const metadata = {
    sdkId: str(config.serviceId, 'serviceId'),
    apiVersion: str(config.apiVersion, 'apiVersion'),
    signingName: str(config.defaultSigningName, 'defaultSigningName'),
    endpointPrefix,
    ...(settings.awsQueryCompatible === true ? { awsQueryCompatible: true } : {}),
    protocols,
  };

  // Errors: every error schema of the service's registry (not the SDK's synthetic base exception).
  const namespace = str(settings.defaultNamespace, 'defaultNamespace');
  const registry = (settings.errorTypeRegistries ?? []).find((r) => r.namespace === namespace);
  if (!registry) fail(`no error registry for ${namespace}`);
  const errors = [];
  for (const [id, schema] of registry.schemas) {
    if (!Array.isArray(schema) || schema[0] !== ID.error) fail(`${id} in the error registry is not an error schema`);
    errors.push(targetOf(schema, undefined, id));
  }
  for (const name of errorDecls.keys()) {
    if (!errors.includes(name) && !name.endsWith('ServiceException')) fail(`${name} is declared but not in the error registry`);
  }

  // -------------------------------------------------------------------------
  // Emit.
  // -------------------------------------------------------------------------

  const q = (s) => JSON.stringify(s);
  const byName = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const inline = (obj) =>
    `{ ${Object.entries(obj)
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? `[${v.map(q).join(', ')}]` : q(v)}`)
      .join(', ')} }`;

  function emitShape(name, shape) {
    const head = `    ${q(name)}: `;
    if (shape.type === 'structure' || shape.type === 'union') {
      const { members, ...rest } = shape;
      const extra = Object.entries(rest)
        .filter(([k]) => k !== 'type')
        .map(([k, v]) => `, ${k}: ${typeof v === 'object' ? inline(v) : q(v)}`)
        .join('');
      const entries = Object.entries(members);
      if (entries.length === 0) return `${head}{ type: ${q(shape.type)}${extra}, members: {} },`;
      const lines = entries.map(([m, spec]) => `      ${q(m)}: ${inline(spec)},`);
      return `${head}{ type: ${q(shape.type)}${extra}, members: {\n${lines.join('\n')}\n    } },`;
    }
    return `${head}${inline(shape)},`;
  }

  const constName = `${service.toUpperCase()}_MODEL`;
  const typeName = `${service[0].toUpperCase()}${service.slice(1)}OperationName`;
  const opNames = [...operations.keys()].sort(byName);
  const shapeNames = [...shapes.keys()].sort(byName);
  const out = [
    `// Generated by scripts/gen-model.mjs from ${pkg}@${pkgVersion}. Do not edit: run \`npm run gen:model\`.`,
    `// Operations, shapes, errors and protocols of ${metadata.sdkId} (${metadata.apiVersion}) as that package models it.`,
    '',
    "import type { ServiceModel } from './model.js';",
    '',
    `export const ${constName} = {`,
    `  source: { package: ${q(pkg)}, version: ${q(pkgVersion)} },`,
    `  metadata: {`,
    ...Object.entries(metadata)
      .filter(([k]) => k !== 'protocols')
      .map(([k, v]) => `    ${k}: ${q(v)},`),
    `    protocols: [`,
    ...metadata.protocols.map((p) => `      ${inline(p)},`),
    `    ],`,
    `  },`,
    `  operations: {`,
    ...opNames.map((op) => `    ${op}: ${inline(operations.get(op))},`),
    `  },`,
    `  errors: [`,
    ...errors.sort(byName).map((e) => `    ${q(e)},`),
    `  ],`,
    `  shapes: {`,
    ...shapeNames.map((n) => emitShape(n, shapes.get(n))),
    `  },`,
    `} as const satisfies ServiceModel;`,
    '',
    `export type ${typeName} = keyof typeof ${constName}.operations;`,
    '',
  ];
  const outFile = join(outDir, `${service}.generated.ts`);
  writeFileSync(outFile, out.join('\n'));
  return `wrote ${relative(repoRoot, outFile)}: ${operations.size} operations, ${shapes.size} shapes, ${errors.length} errors from ${pkg}@${pkgVersion}`;
}

function findPackageDir(pkg, file) {
  let dir = dirname(file);
  for (;;) {
    try {
      const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (json.name === pkg) return dir;
    } catch {
      // not a package root; keep climbing
    }
    const parent = dirname(dir);
    if (parent === dir) throw new GenerationError(`cannot find the ${pkg} package root from ${file}`);
    dir = parent;
  }
}

const requested = process.argv.slice(2);
for (const s of requested) {
  if (!Object.hasOwn(SERVICES, s)) {
    console.error(`gen-model: unknown service ${s}; known: ${Object.keys(SERVICES).join(', ')}`);
    process.exit(2);
  }
}
try {
  for (const service of requested.length ? requested : Object.keys(SERVICES)) console.log(generate(service, SERVICES[service]));
} catch (err) {
  if (!(err instanceof GenerationError)) throw err;
  console.error(err.message);
  process.exit(1);
}
