/** Berth's IAM policy engine: compile documents once, evaluate requests purely. */
export { compilePolicy, principalAccount, PolicySyntaxError, type CompiledPolicy, type PolicyKind, type RequestPrincipal } from './document.js';
export { evaluate, denialMessage, type AuthorizationRequest, type Decision, type DecisionKind, type PolicySet } from './evaluate.js';
