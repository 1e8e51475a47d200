// Composes a supergraph for Hive Gateway from GHL's contacts OpenAPI file.
//
// PEER_VARIANT=published (default): the published file as it is.
// PEER_VARIANT=linked: the published file plus the search response schema from an
//   earlier revision of the same repository, and fields that link contacts to their
//   tasks and notes, which is what a user of this gateway would add by hand.
//
// GHL_PORT picks the GHL-compatible upstream on 127.0.0.1 (default 4010). GHL_SPECS_DIR
// points at the folder that contains ghl/contacts.json and common/common-schemas.json
// (default ../../tests/data/specs relative to this file, the repository's copy).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

const configDir = dirname(fileURLToPath(import.meta.url));
const variant = process.env.PEER_VARIANT ?? 'published';
const port = process.env.GHL_PORT ?? '4010';
const specsDir = resolve(configDir, process.env.GHL_SPECS_DIR ?? '../../tests/data/specs');
const publishedSpec = join(specsDir, 'ghl', 'contacts.json');

if (variant !== 'published' && variant !== 'linked') {
  throw new Error(`PEER_VARIANT must be "published" or "linked", got "${variant}"`);
}

// Writes a patched copy next to a copy of common/, so its relative $refs still resolve.
function patchedSpec(): string {
  const spec = JSON.parse(readFileSync(publishedSpec, 'utf8'));
  const patch = JSON.parse(
    readFileSync(join(configDir, 'spec-patch', 'search-contacts-response.json'), 'utf8'),
  );
  Object.assign(spec.components.schemas, patch.schemas);
  spec.paths['/contacts/search'].post.responses['200'] = {
    description: 'Successful response',
    content: {
      'application/json': {
        schema: { $ref: '#/components/schemas/SearchContactSuccessResponseDto' },
      },
    },
  };
  const outDir = join(configDir, 'build', 'specs');
  mkdirSync(join(outDir, 'ghl'), { recursive: true });
  mkdirSync(join(outDir, 'common'), { recursive: true });
  copyFileSync(
    join(specsDir, 'common', 'common-schemas.json'),
    join(outDir, 'common', 'common-schemas.json'),
  );
  const out = join(outDir, 'ghl', 'contacts.json');
  writeFileSync(out, JSON.stringify(spec, null, 2));
  return out;
}

const subgraphName = 'GHLContacts';

function linkFields(typeName: string): string {
  return /* GraphQL */ `
    extend type ${typeName} {
      tasks: get_all_tasks_response
        @resolveTo(
          sourceName: "${subgraphName}"
          sourceTypeName: "Query"
          sourceFieldName: "get_all_tasks"
          requiredSelectionSet: "{ id }"
          sourceArgs: { contactId: "{root.id}" }
        )
      notes: get_all_notes_response
        @resolveTo(
          sourceName: "${subgraphName}"
          sourceTypeName: "Query"
          sourceFieldName: "get_all_notes"
          requiredSelectionSet: "{ id }"
          sourceArgs: { contactId: "{root.id}" }
        )
    }
  `;
}

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph(subgraphName, {
        source: variant === 'linked' ? patchedSpec() : publishedSpec,
        endpoint: `http://127.0.0.1:${port}`,
        operationHeaders: {
          Authorization: '{context.headers.authorization}',
          Version: '2021-07-28',
        },
        // GHL's search is a POST that only reads. Without this setting it lands under
        // Mutation, so it could not share an operation with the read fields.
        selectQueryOrMutationField: [{ type: 'Query', fieldName: 'search_contacts_advanced' }],
      }),
    },
  ],
  additionalTypeDefs:
    variant === 'linked' ? [linkFields('GetContectByIdSchema'), linkFields('Contact')] : undefined,
});
