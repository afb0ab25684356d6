/**
 * The CRD schema validator the tests pass to `compile()` and `validateResource()`: crds/ read
 * and compiled once per test process, as the operator and the CLI do at start-up.
 *
 * @example
 * ```ts
 * import { schema } from '../../support/schema.ts';
 * const { snapshot } = compile({ schema, resources });
 * ```
 */
import { readCrds } from '../../common/crds.ts';
import { createSchemaValidator } from '../../compiler/schema.ts';

export const schema = createSchemaValidator(readCrds());
