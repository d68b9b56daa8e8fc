import { awsJsonService, type OperationHandler } from '../awsJson.js';
import { bindContext } from '../bind.js';
import { SerializationException, UnknownOperationException, ValidationException } from '../errors.js';
import type { ApiRequest, ServiceProtocol } from '../protocol.js';
import { ACM_MODEL, type AcmOperationName } from '../models/acm.generated.js';
import type { OperationInput } from '../models/index.js';
import { isOperationOf } from '../models/model.js';
import { createValidator } from '../validate.js';
import * as certificates from '../../acm/certificates.js';
import type { AcmContext } from '../../acm/certificates.js';

export const ACM_TARGET_PREFIX = 'CertificateManager';

/** The input of ACM operation `Op` once the ACM model has accepted it. */
export type AcmInput<Op extends AcmOperationName> = OperationInput<'acm', Op>;

/** A handler of ACM operation `Op`. */
export type AcmHandler<Op extends AcmOperationName> = (input: AcmInput<Op>, req: ApiRequest) => Promise<unknown>;

/** Handlers by ACM operation name; a handler whose input type does not accept its operation's input does not compile. */
export type AcmOperations = { readonly [Op in AcmOperationName]?: AcmHandler<Op> };

const validateAcmInput = createValidator(ACM_MODEL, {
  errors: {
    validation: (m) => new ValidationException(m),
    serialization: (m) => new SerializationException(m),
    unknownOperation: (m) => new UnknownOperationException(m),
  },
});

/** The ACM operations Berth serves: imported certificates for HTTPS and TLS listeners. */
export function acmOperations(ctx: AcmContext): AcmOperations {
  const op = bindContext(ctx);
  return {
    ImportCertificate: op(certificates.importCertificate),
    DescribeCertificate: op(certificates.describeCertificate),
    ListCertificates: op(certificates.listCertificates),
    GetCertificate: op(certificates.getCertificatePem),
    DeleteCertificate: op(certificates.deleteCertificate),
    AddTagsToCertificate: op(certificates.addTagsToCertificate),
    RemoveTagsFromCertificate: op(certificates.removeTagsFromCertificate),
    ListTagsForCertificate: op(certificates.listTagsForCertificate),
  };
}

/** ACM over AWS JSON 1.1 (signing name `acm`). */
export function acmProtocol(ctx: AcmContext): ServiceProtocol {
  const handlers = acmOperations(ctx) as Readonly<Record<string, OperationHandler>>;
  return awsJsonService({
    service: 'acm',
    targetPrefix: ACM_TARGET_PREFIX,
    jsonVersion: '1.1',
    operations: handlers,
    isKnownOperation: (name) => isOperationOf(ACM_MODEL, name),
    validate: validateAcmInput,
    unsupported: (name) => new ValidationException(`Berth does not implement ${name}: it imports certificates and does not issue them. The README lists the ACM operations that work today.`),
  });
}
