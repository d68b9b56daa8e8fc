import { awsJsonServiceOf } from '../awsJson.js';
import { bindOperations, type ContextOperations } from '../bind.js';
import { ValidationException } from '../errors.js';
import type { ServiceProtocol } from '../protocol.js';
import { ACM_MODEL } from '../models/acm.generated.js';
import * as certificates from '../../acm/certificates.js';
import type { AcmContext } from '../../acm/certificates.js';

/** The ACM operations Berth serves: imported certificates for HTTPS and TLS listeners. */
const OPERATIONS: ContextOperations<'acm', AcmContext> = {
  ImportCertificate: certificates.importCertificate,
  DescribeCertificate: certificates.describeCertificate,
  ListCertificates: certificates.listCertificates,
  GetCertificate: certificates.getCertificatePem,
  DeleteCertificate: certificates.deleteCertificate,
  AddTagsToCertificate: certificates.addTagsToCertificate,
  RemoveTagsFromCertificate: certificates.removeTagsFromCertificate,
  ListTagsForCertificate: certificates.listTagsForCertificate,
};

/** ACM over AWS JSON 1.1 (signing name `acm`). */
export function acmProtocol(ctx: AcmContext): ServiceProtocol {
  return awsJsonServiceOf('acm', ACM_MODEL, {
    operations: bindOperations(ctx, OPERATIONS),
    validationError: ValidationException,
    unsupported: (name) => new ValidationException(`Berth does not implement ${name}: it imports certificates and does not issue them. The README lists the ACM operations that work today.`),
  });
}
