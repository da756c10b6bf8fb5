import { ErrorCode, FleetcastError } from '@fleetcast/contracts';
import { parseDocument } from 'yaml';

/** The media types a topology is uploaded in. */
export const TOPOLOGY_JSON_TYPES = ['application/json'] as const;
export const TOPOLOGY_YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'] as const;

/**
 * YAML aliases a document may use: a topology needs none, and a few nested ones can expand a small
 * file into gigabytes ("billion laughs"); the yaml package's default is 100.
 */
const YAML_MAX_ALIASES = 50;

/** The bare media type of a Content-Type header (no parameters, lower case); null without one. */
export function mediaTypeOf(contentType: string | undefined): string | null {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type ? type : null;
}

/**
 * Reads an uploaded topology by its content type: JSON (also without a Content-Type, or a
 * `+json` type) or YAML. A syntax error names its line and column; another type is refused naming
 * the ones accepted. Pure: the middleware hands it the body as text.
 */
export function parseTopologyBody(text: string, contentType: string | undefined): unknown {
  const type = mediaTypeOf(contentType);
  if (text.trim() === '') {
    throw new FleetcastError(ErrorCode.ContractInvalid, 'request body is missing: send the topology document as JSON or YAML', [{ path: '', message: 'Required' }]);
  }
  if (type === null || (TOPOLOGY_JSON_TYPES as readonly string[]).includes(type) || type.endsWith('+json')) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new FleetcastError(ErrorCode.ContractInvalid, `request body is not valid JSON: ${(error as Error).message}`, [{ path: '', message: 'not valid JSON' }]);
    }
  }
  if ((TOPOLOGY_YAML_TYPES as readonly string[]).includes(type)) {
    const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    if (document.errors.length > 0) {
      const details = document.errors.map((e) => ({ path: '', message: `line ${e.linePos?.[0].line ?? '?'}, column ${e.linePos?.[0].col ?? '?'}: ${e.message.split('\n')[0]}` }));
      throw new FleetcastError(ErrorCode.ContractInvalid, `request body is not valid YAML: ${details.map((d) => d.message).join('; ')}`, details);
    }
    try {
      return document.toJS({ maxAliasCount: YAML_MAX_ALIASES });
    } catch (error) {
      throw new FleetcastError(ErrorCode.ContractInvalid, `request body is not usable YAML: ${(error as Error).message}`, [{ path: '', message: (error as Error).message }]);
    }
  }
  throw new FleetcastError(
    ErrorCode.ContractInvalid,
    `a topology is uploaded as ${[...TOPOLOGY_JSON_TYPES, ...TOPOLOGY_YAML_TYPES].join(' or ')}, not ${type}`,
    [{ path: '', message: `unsupported Content-Type ${type}` }],
  );
}
