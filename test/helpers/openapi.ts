import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/**
 * Checks an OpenAPI 3.1 document with Ajv alone: its structure, its schemas under Ajv's strict mode,
 * its references, and real answers of the server against it. No OpenAPI library: Ajv's JSON Schema
 * 2020-12 is the dialect OpenAPI 3.1 schemas are written in.
 */

type Json = Record<string, any>;

/** The key the document is held under in Ajv; its `#/components/…` references resolve within it. */
const DOCUMENT = 'openapi.json';
/** The document's own fields: Ajv holds the whole document as the root its fragments are compiled in. */
const DOCUMENT_FIELDS = ['openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths', 'webhooks', 'components', 'security', 'tags', 'externalDocs'];
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** A URI fragment of JSON pointer tokens (RFC 6901 §6). */
export function pointer(...tokens: (string | number)[]): string {
  return `#/${tokens.map((t) => encodeURIComponent(String(t).replace(/~/g, '~0').replace(/\//g, '~1'))).join('/')}`;
}

function resolvePointer(document: Json, fragment: string): unknown {
  if (!fragment.startsWith('#/')) return undefined;
  let node: unknown = document;
  for (const token of fragment.slice(2).split('/')) {
    const key = decodeURIComponent(token).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
    node = (node as Json)[key];
  }
  return node;
}

const ref = { type: 'object', required: ['$ref'], properties: { $ref: { type: 'string' }, summary: { type: 'string' }, description: { type: 'string' } }, additionalProperties: false };
const schemaObject = { type: ['object', 'boolean'] };
const mapOf = (value: object) => ({ type: 'object', additionalProperties: value });
const extensions = { '^x-': true };

/**
 * The OpenAPI 3.1 objects this API uses, field by field (spec §4.8), closed so that a misspelt field
 * fails. Schema objects inside are left to Ajv's compiler, which checks them more strictly.
 */
const OPENAPI_STRUCTURE = {
  type: 'object',
  required: ['openapi', 'info', 'paths'],
  properties: {
    openapi: { type: 'string', pattern: '^3\\.1\\.\\d+$' },
    info: {
      type: 'object',
      required: ['title', 'version'],
      properties: { title: { type: 'string' }, version: { type: 'string' }, summary: { type: 'string' }, description: { type: 'string' } },
      additionalProperties: false,
    },
    jsonSchemaDialect: { type: 'string', format: 'uri' },
    tags: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, description: { type: 'string' } }, additionalProperties: false } },
    security: { $ref: '#/$defs/security' },
    paths: { type: 'object', propertyNames: { pattern: '^/' }, additionalProperties: { $ref: '#/$defs/pathItem' } },
    components: {
      type: 'object',
      properties: {
        schemas: mapOf(schemaObject),
        parameters: mapOf({ anyOf: [ref, { $ref: '#/$defs/parameter' }] }),
        responses: mapOf({ anyOf: [ref, { $ref: '#/$defs/response' }] }),
        headers: mapOf({ anyOf: [ref, { $ref: '#/$defs/header' }] }),
        securitySchemes: mapOf({ $ref: '#/$defs/securityScheme' }),
      },
      additionalProperties: false,
    },
  },
  patternProperties: extensions,
  additionalProperties: false,
  $defs: {
    security: { type: 'array', items: mapOf({ type: 'array', items: { type: 'string' } }) },
    pathItem: {
      type: 'object',
      properties: {
        summary: { type: 'string' },
        description: { type: 'string' },
        parameters: { type: 'array', items: { anyOf: [ref, { $ref: '#/$defs/parameter' }] } },
        ...Object.fromEntries(METHODS.map((m) => [m, { $ref: '#/$defs/operation' }])),
      },
      patternProperties: extensions,
      additionalProperties: false,
    },
    operation: {
      type: 'object',
      required: ['responses'],
      properties: {
        operationId: { type: 'string' },
        summary: { type: 'string' },
        description: { type: 'string' },
        tags: { type: 'array', items: { type: 'string' } },
        security: { $ref: '#/$defs/security' },
        deprecated: { type: 'boolean' },
        parameters: { type: 'array', items: { anyOf: [ref, { $ref: '#/$defs/parameter' }] } },
        responses: {
          type: 'object',
          minProperties: 1,
          propertyNames: { pattern: '^(default|[1-5](\\d\\d|XX))$' },
          additionalProperties: { anyOf: [ref, { $ref: '#/$defs/response' }] },
        },
      },
      patternProperties: extensions,
      additionalProperties: false,
    },
    parameter: {
      type: 'object',
      required: ['name', 'in', 'schema'],
      properties: {
        name: { type: 'string', minLength: 1 },
        in: { enum: ['query', 'header', 'path', 'cookie'] },
        description: { type: 'string' },
        required: { type: 'boolean' },
        deprecated: { type: 'boolean' },
        style: { enum: ['matrix', 'label', 'simple', 'form', 'spaceDelimited', 'pipeDelimited', 'deepObject'] },
        explode: { type: 'boolean' },
        allowReserved: { type: 'boolean' },
        schema: schemaObject,
      },
      // A path parameter must be required (§4.8.12.2).
      if: { properties: { in: { const: 'path' } } },
      then: { properties: { required: { const: true } }, required: ['required'] },
      patternProperties: extensions,
      additionalProperties: false,
    },
    header: {
      type: 'object',
      required: ['schema'],
      properties: { description: { type: 'string' }, required: { type: 'boolean' }, deprecated: { type: 'boolean' }, schema: schemaObject },
      patternProperties: extensions,
      additionalProperties: false,
    },
    response: {
      type: 'object',
      required: ['description'],
      properties: {
        description: { type: 'string' },
        headers: mapOf({ anyOf: [ref, { $ref: '#/$defs/header' }] }),
        content: mapOf({ type: 'object', properties: { schema: schemaObject }, patternProperties: extensions, additionalProperties: false }),
      },
      patternProperties: extensions,
      additionalProperties: false,
    },
    securityScheme: {
      type: 'object',
      required: ['type'],
      properties: {
        type: { enum: ['apiKey', 'http', 'mutualTLS', 'oauth2', 'openIdConnect'] },
        description: { type: 'string' },
        name: { type: 'string' },
        in: { enum: ['query', 'header', 'cookie'] },
        scheme: { type: 'string' },
        bearerFormat: { type: 'string' },
      },
      allOf: [
        { if: { properties: { type: { const: 'apiKey' } } }, then: { properties: { name: true, in: true }, required: ['name', 'in'] } },
        { if: { properties: { type: { const: 'http' } } }, then: { properties: { scheme: true }, required: ['scheme'] } },
      ],
      patternProperties: extensions,
      additionalProperties: false,
    },
  },
};

/** One answer of the server, as the test received it. */
export interface Exchange {
  method: string;
  /** Path and query, as requested. */
  url: string;
  status: number;
  headers: Headers;
  body: Buffer;
}

interface Operation {
  template: string;
  method: string;
  /** Where the operation is in the document. */
  at: string;
  operation: Json;
}

export class OpenApiChecker {
  private readonly ajv: Ajv2020;

  constructor(private readonly document: Json) {
    this.ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
    addFormats(this.ajv);
    this.ajv.addVocabulary(DOCUMENT_FIELDS);
    this.ajv.addSchema(document, DOCUMENT);
  }

  /** Everything wrong with the document as OpenAPI 3.1; empty when nothing is. */
  documentProblems(): string[] {
    const problems: string[] = [];
    const structure = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
    addFormats(structure);
    const validStructure = structure.compile(OPENAPI_STRUCTURE);
    if (!validStructure(this.document)) problems.push(`not an OpenAPI 3.1 document: ${errorsText(structure, validStructure, 'document')}`);

    // Every reference resolves; OpenAPI 3.1 allows others, but this document keeps to itself.
    this.walk(this.document, '#', (node, at) => {
      // Ajv still reads OpenAPI 3.0's `nullable`, which JSON Schema 2020-12 does not have.
      if (node.nullable !== undefined && at.startsWith('#/components/schemas')) problems.push(`${at}: nullable is OpenAPI 3.0; 3.1 writes type: [..., "null"]`);
      if (typeof node.$ref !== 'string') return;
      if (resolvePointer(this.document, node.$ref) === undefined) problems.push(`${at}: $ref ${node.$ref} resolves to nothing`);
    });

    // Every schema compiles under strict mode: those in components and each one an operation uses.
    const schemas = Object.keys(this.document.components?.schemas ?? {}).map((name) => pointer('components', 'schemas', name));
    for (const { at, operation } of this.operations()) {
      (operation.parameters ?? []).forEach((_: unknown, i: number) => schemas.push(`${this.resolved(`${at}/parameters/${i}`).at}/schema`));
      for (const status of Object.keys(operation.responses)) {
        const response = this.resolved(`${at}${pointer('responses', status).slice(1)}`);
        for (const name of Object.keys(response.node.headers ?? {})) schemas.push(`${response.at}${pointer('headers', name).slice(1)}/schema`);
        for (const type of Object.keys(response.node.content ?? {})) schemas.push(`${response.at}${pointer('content', type).slice(1)}/schema`);
      }
    }
    for (const at of new Set(schemas)) {
      if (resolvePointer(this.document, at) === undefined) continue;
      try {
        this.validator(at);
      } catch (error) {
        problems.push(`${at}: ${(error as Error).message}`);
      }
    }

    const operationIds = new Map<string, string>();
    const schemes = Object.keys(this.document.components?.securitySchemes ?? {});
    for (const { template, method, at, operation } of this.operations()) {
      const name = `${method.toUpperCase()} ${template}`;
      const previous = operationIds.get(operation.operationId);
      if (previous) problems.push(`${name}: operationId ${operation.operationId} is also ${previous}'s`);
      operationIds.set(operation.operationId, name);
      const parameters = this.parameters(at);
      const keys = parameters.map((p) => `${p.node.in} ${p.node.name}`);
      if (new Set(keys).size !== keys.length) problems.push(`${name}: a parameter is listed twice (${keys.join(', ')})`);
      // Each {name} of the template is a path parameter and each path parameter is in the template.
      const inTemplate = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const inPath = parameters.filter((p) => p.node.in === 'path').map((p) => p.node.name as string).sort();
      if (inTemplate.join() !== inPath.join()) problems.push(`${name}: path parameters [${inPath.join(', ')}] differ from the template's [${inTemplate.join(', ')}]`);
      for (const requirement of [...(operation.security ?? []), ...(this.document.security ?? [])] as Json[]) {
        for (const scheme of Object.keys(requirement)) if (!schemes.includes(scheme)) problems.push(`${name}: security scheme ${scheme} is not in components.securitySchemes`);
      }
    }
    return problems;
  }

  /** Everything about one answer that the document does not allow; empty when the document describes it. */
  responseProblems({ method, url, status, headers, body }: Exchange): string[] {
    const found = this.operation(method, url);
    if (typeof found === 'string') return [found];
    const where = `${method} ${url} → ${status}`;
    const documented = Object.keys(found.operation.responses);
    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => documented.includes(k));
    if (!key) return [`${where}: status ${status} is not documented for ${method} ${found.template} (documented: ${documented.join(', ')})`];
    const response = this.resolved(`${found.at}${pointer('responses', key).slice(1)}`);
    const problems: string[] = [];

    for (const [name, header] of Object.entries((response.node.headers ?? {}) as Record<string, Json>)) {
      const value = headers.get(name);
      if (value === null) {
        if (header.required) problems.push(`${where}: header ${name} is documented as always sent but is missing`);
        continue;
      }
      const validate = this.validator(`${response.at}${pointer('headers', name).slice(1)}/schema`);
      if (!validate(value)) problems.push(`${where}: header ${name}: ${errorsText(this.ajv, validate, name)}`);
    }

    const types = Object.keys(response.node.content ?? {});
    if (types.length === 0) {
      if (body.length > 0) problems.push(`${where}: documented without a body, answered ${body.length} bytes`);
      return problems;
    }
    const contentType = (headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    const type = types.find((t) => t === contentType || (t.endsWith('/*') && contentType.startsWith(t.slice(0, -1))) || t === '*/*');
    if (!type) return [...problems, `${where}: content type "${contentType}" is not documented (documented: ${types.join(', ')})`];
    if (!/^application\/(.+\+)?json$/.test(type)) return problems;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return [...problems, `${where}: the body is not JSON`];
    }
    return [...problems, ...this.bodyProblems(`${response.at}${pointer('content', type).slice(1)}/schema`, parsed, where)];
  }

  /**
   * What the documented schema of `method url`'s `status` answer says is wrong with `body`: the
   * same check as responseProblems makes, for a body the test made up.
   */
  schemaProblems(method: string, url: string, status: number, body: unknown): string[] {
    const found = this.operation(method, url);
    if (typeof found === 'string') return [found];
    const response = this.resolved(`${found.at}${pointer('responses', String(status)).slice(1)}`);
    return this.bodyProblems(`${response.at}${pointer('content', 'application/json').slice(1)}/schema`, body, `${method} ${url} → ${status}`);
  }

  /**
   * Each query and path parameter of a request the server accepted must be documented, and its
   * value must fit its schema: a schema stricter than the server would refuse what works.
   */
  requestProblems(method: string, url: string): string[] {
    const found = this.operation(method, url);
    if (typeof found === 'string') return [found];
    const { pathname, searchParams } = new URL(url, 'http://localhost');
    const parameters = this.parameters(found.at);
    const problems: string[] = [];
    const check = (name: string, place: string, raw: string) => {
      const parameter = parameters.find((p) => p.node.name === name && p.node.in === place);
      if (!parameter) return problems.push(`${method} ${url}: ${place} parameter ${name} is not documented`);
      const validate = this.validator(`${parameter.at}/schema`);
      const value = deserialize(parameter.node, raw);
      if (!validate(value)) problems.push(`${method} ${url}: ${place} parameter ${name}=${raw}: ${errorsText(this.ajv, validate, name)}`);
    };
    for (const [name, raw] of searchParams) check(name, 'query', raw);
    const values = new RegExp(templatePattern(found.template)).exec(pathname)!.slice(1);
    [...found.template.matchAll(/\{([^}]+)\}/g)].forEach((m, i) => check(m[1], 'path', decodeURIComponent(values[i])));
    for (const p of parameters) {
      if (p.node.required && p.node.in === 'query' && !searchParams.has(p.node.name)) problems.push(`${method} ${url}: required ${p.node.name} is missing`);
    }
    return problems;
  }

  /** The query parameters documented for `method template`. */
  queryParameters(method: string, template: string): string[] {
    const operation = this.operations().find((o) => o.method === method.toLowerCase() && o.template === template);
    return operation ? this.parameters(operation.at).filter((p) => p.node.in === 'query').map((p) => p.node.name as string) : [];
  }

  operations(): Operation[] {
    return Object.entries(this.document.paths as Record<string, Json>).flatMap(([template, item]) =>
      METHODS.filter((m) => item[m]).map((method) => ({ template, method, at: pointer('paths', template, method), operation: item[method] as Json })),
    );
  }

  /** The operation a request reaches: a literal path before a templated one, as OpenAPI asks (§4.8.8.2). */
  private operation(method: string, url: string): Operation | string {
    const { pathname } = new URL(url, 'http://localhost');
    const candidates = this.operations()
      .filter((o) => o.method === method.toLowerCase() && new RegExp(templatePattern(o.template)).test(pathname))
      .sort((a, b) => Number(a.template.includes('{')) - Number(b.template.includes('{')));
    return candidates[0] ?? `${method} ${pathname}: no documented operation`;
  }

  private bodyProblems(schemaAt: string, body: unknown, where: string): string[] {
    const validate = this.validator(schemaAt);
    return validate(body) ? [] : [`${where}: ${errorsText(this.ajv, validate, 'body')}`];
  }

  private validator(at: string): ValidateFunction {
    const validate = this.ajv.getSchema(`${DOCUMENT}${at}`);
    if (!validate) throw new Error(`no schema at ${at}`);
    return validate;
  }

  /** A path item's and an operation's parameters, references followed. */
  private parameters(operationAt: string): { at: string; node: Json }[] {
    const pathItemAt = operationAt.slice(0, operationAt.lastIndexOf('/'));
    const list = (at: string) => ((resolvePointer(this.document, `${at}/parameters`) ?? []) as unknown[]).map((_, i) => this.resolved(`${at}/parameters/${i}`));
    const own = list(operationAt);
    return [...list(pathItemAt).filter((p) => !own.some((o) => o.node.name === p.node.name && o.node.in === p.node.in)), ...own];
  }

  /** The object at `at`, after its $ref, and where that is. */
  private resolved(at: string): { at: string; node: Json } {
    const node = resolvePointer(this.document, at) as Json;
    return typeof node?.$ref === 'string' ? this.resolved(node.$ref) : { at, node };
  }

  private walk(node: unknown, at: string, visit: (node: Json, at: string) => void): void {
    if (node === null || typeof node !== 'object') return;
    visit(node as Json, at);
    for (const [key, value] of Object.entries(node)) this.walk(value, `${at}${pointer(key).slice(1)}`, visit);
  }
}

/** Ajv's text, with the name of each property that additionalProperties: false refused. */
function errorsText(ajv: Ajv2020, validate: ValidateFunction, dataVar: string): string {
  const errors = (validate.errors ?? []).map((e) => (e.keyword === 'additionalProperties' ? { ...e, message: `${e.message}: ${e.params.additionalProperty}` } : e));
  return ajv.errorsText(errors, { dataVar, separator: '\n  ' });
}

function templatePattern(template: string): string {
  return `^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '([^/]+)')}$`;
}

/** A query value as `style: form` gives it: comma lists split with `explode: false`, numbers read as numbers. */
function deserialize(parameter: Json, raw: string): unknown {
  const schema = parameter.schema as Json;
  const scalar = (itemSchema: Json | undefined, value: string): unknown =>
    ['integer', 'number'].includes(itemSchema?.type) && value.trim() !== '' && !Number.isNaN(Number(value)) ? Number(value) : value;
  if (schema.type === 'array' && parameter.explode === false) {
    return raw.split(',').map((item, i) => scalar((schema.prefixItems?.[i] ?? schema.items) as Json | undefined, item));
  }
  return scalar(schema, raw);
}
