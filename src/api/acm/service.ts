import { awsJsonServiceOf, jsonProtocolOf } from '../awsJson.js';
import { bindContext } from '../bind.js';
import { ValidationException } from '../errors.js';
import type { ServiceProtocol } from '../protocol.js';
import { ACM_MODEL, type AcmOperationName } from '../models/acm.generated.js';
import type { Handler, OperationInput, Operations } from '../models/index.js';
import * as certificates from '../../acm/certificates.js';
import type { AcmContext } from '../../acm/certificates.js';

export const ACM_TARGET_PREFIX = jsonProtocolOf(ACM_MODEL).targetPrefix;

export type AcmInput<Op extends AcmOperationName> = OperationInput<'acm', Op>;
export type AcmHandler<Op extends AcmOperationName> = Handler<'acm', Op>;
export type AcmOperations = Operations<'acm'>;

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
  return awsJsonServiceOf('acm', ACM_MODEL, {
    operations: acmOperations(ctx),
    validationError: ValidationException,
    unsupported: (name) => new ValidationException(`Berth does not implement ${name}: it imports certificates and does not issue them. The README lists the ACM operations that work today.`),
  });
}
