/**
 * A decision: what the check pipeline concluded, before it becomes a CheckResponse. Keeping it
 * separate from the wire format lets `jwtgate check` explain a decision without gRPC.
 *
 * @example
 * ```ts
 * const d: Decision = { kind: 'deny', reason: 'token_missing', description: 'a bearer token is required',
 *   deny: { realm: 'jwtgate', exposeReason: true, headers: [] }, trace: [] };
 * ```
 */
import type { AllowReason, DenyReason } from './reasons.ts';
import type { DenySettings } from '../snapshot/types.ts';

/** One step of the pipeline, for `jwtgate check` and debug logs. */
export interface TraceStep {
  step: 'request' | 'match' | 'extract' | 'verify' | 'authorize' | 'respond';
  message: string;
}

export interface HeaderToSet {
  name: string;
  value: string;
}

export interface AllowDecision {
  kind: 'allow';
  /** An allow carries only an allow code (status 200 in `REASONS`): a mismatch does not compile. */
  reason: AllowReason;
  policyId?: string;
  issuerId?: string;
  subject?: string;
  /** Set with overwrite semantics: a client's own copy never reaches upstream. */
  headersToSet: HeaderToSet[];
  headersToRemove: string[];
  queryParametersToRemove: string[];
  /** Goes to `dynamic_metadata` (Envoy access logs, later filters). */
  metadata: Record<string, unknown>;
  trace: TraceStep[];
}

export interface DenyDecision {
  kind: 'deny';
  /** A deny carries only a deny code. */
  reason: DenyReason;
  /** Safe to show the client. */
  description: string;
  /** Log only. */
  detail?: string;
  policyId?: string;
  issuerId?: string;
  subject?: string;
  deny: DenySettings;
  trace: TraceStep[];
}

export type Decision = AllowDecision | DenyDecision;
