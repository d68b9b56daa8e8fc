import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  CreateRuleCommand,
  DeleteRuleCommand,
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingV2Client,
  ResourceInUseException as SdkResourceInUseException,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateUserCommand, GetUserCommand, IAMClient, NoSuchEntityException } from '@aws-sdk/client-iam';
import { HttpResponse, type HttpRequest } from '@smithy/protocol-http';
import { IAM_MODEL } from './models/iam.generated.js';
import { ELBV2_MODEL } from './models/elbv2.generated.js';
import type { ServiceModel } from './models/model.js';
import { awsQueryService, decodeQuery, encodeQueryError, encodeXml, toQueryError } from './awsQuery.js';
import { AwsError, LoadBalancerNotFoundException, ResourceInUseException, ValidationError } from './errors.js';
import type { ApiRequest } from './protocol.js';

const params = (q: string): [string, string][] => [...new URLSearchParams(q)];

describe('awsQuery decoding (ELBv2 model)', () => {
  it('turns member lists, nested structures, numbers and booleans into the input structure', () => {
    const input = decodeQuery(
      ELBV2_MODEL,
      'CreateRule',
      params(
        'Action=CreateRule&Version=2015-12-01&ListenerArn=arn%3Al&Priority=10' +
          '&Conditions.member.1.Field=path-pattern&Conditions.member.1.PathPatternConfig.Values.member.1=%2Fapi%2F*' +
          '&Conditions.member.1.PathPatternConfig.Values.member.2=%2Fv2%2F*' +
          '&Actions.member.1.Type=forward&Actions.member.1.ForwardConfig.TargetGroups.member.2.TargetGroupArn=b' +
          '&Actions.member.1.ForwardConfig.TargetGroups.member.2.Weight=3' +
          '&Actions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn=a' +
          '&Actions.member.1.ForwardConfig.TargetGroups.member.1.Weight=1' +
          '&Actions.member.1.ForwardConfig.TargetGroupStickinessConfig.Enabled=true' +
          '&Actions.member.1.ForwardConfig.TargetGroupStickinessConfig.DurationSeconds=60',
      ),
    );
    assert.deepEqual(input, {
      ListenerArn: 'arn:l',
      Priority: 10,
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/api/*', '/v2/*'] } }],
      Actions: [
        {
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: 'a', Weight: 1 },
              { TargetGroupArn: 'b', Weight: 3 },
            ],
            TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 60 },
          },
        },
      ],
    });
  });

  it('decodes maps as entry.N.key/value, and `Name=` as the empty list', () => {
    const input = decodeQuery(
      ELBV2_MODEL,
      'CreateListener',
      params(
        'LoadBalancerArn=x&DefaultActions.member.1.Type=authenticate-oidc' +
          '&DefaultActions.member.1.AuthenticateOidcConfig.AuthenticationRequestExtraParams.entry.1.key=prompt' +
          '&DefaultActions.member.1.AuthenticateOidcConfig.AuthenticationRequestExtraParams.entry.1.value=login' +
          '&AlpnPolicy=',
      ),
    );
    assert.deepEqual((input.DefaultActions as { AuthenticateOidcConfig: unknown }[])[0]!.AuthenticateOidcConfig, { AuthenticationRequestExtraParams: { prompt: 'login' } });
    assert.deepEqual(input.AlpnPolicy, []);
    const proto = decodeQuery(
      ELBV2_MODEL,
      'CreateListener',
      params('DefaultActions.member.1.AuthenticateOidcConfig.AuthenticationRequestExtraParams.entry.1.key=__proto__&DefaultActions.member.1.AuthenticateOidcConfig.AuthenticationRequestExtraParams.entry.1.value=x'),
    );
    const extra = (proto.DefaultActions as { AuthenticateOidcConfig: { AuthenticationRequestExtraParams: object } }[])[0]!.AuthenticateOidcConfig.AuthenticationRequestExtraParams;
    assert.deepEqual(Object.keys(extra), ['__proto__']);
    assert.equal(Object.getPrototypeOf(extra), Object.prototype);
  });

  it('honours xmlName and flattened lists of a model that has them', () => {
    const model = {
      source: { package: 'test', version: '0' },
      metadata: { sdkId: 'T', apiVersion: '1', signingName: 't', endpointPrefix: 't', protocols: [{ protocol: 'awsQuery', xmlNamespace: 'urn:t', version: '1' }] },
      errors: [],
      operations: { Op: { input: 'In', output: 'Out' } },
      shapes: {
        In: { type: 'structure', members: { Names: { target: 'L', xmlName: 'Name', xmlFlattened: true }, When: { target: 'T' } } },
        Out: { type: 'structure', members: { Names: { target: 'L', xmlName: 'Name', xmlFlattened: true }, When: { target: 'T' } } },
        L: { type: 'list', member: 'S' },
        S: { type: 'string' },
        T: { type: 'timestamp' },
      },
    } as const satisfies ServiceModel;
    assert.deepEqual(decodeQuery(model, 'Op', params('Name.1=a&Name.2=b&When=2026-01-02T03%3A04%3A05Z')), { Names: ['a', 'b'], When: 1767323045 });
    assert.equal(
      encodeXml(model, 'Op', { Names: ['a', 'b'], When: 1767323045.5 }, 'r1'),
      '<OpResponse xmlns="urn:t"><OpResult><Name>a</Name><Name>b</Name><When>2026-01-02T03:04:05.500Z</When></OpResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></OpResponse>',
    );
  });

  it('leaves a value the model cannot convert as text, for the validator to refuse', () => {
    assert.deepEqual(decodeQuery(ELBV2_MODEL, 'DescribeLoadBalancers', params('PageSize=ten')), { PageSize: 'ten' });
  });
});

describe('awsQuery encoding', () => {
  it('writes the output in model order with lists as <member>, escaped text and ISO 8601 timestamps', () => {
    const xml = encodeXml(
      ELBV2_MODEL,
      'DescribeLoadBalancers',
      {
        NextMarker: 'm<1>',
        LoadBalancers: [{ LoadBalancerName: 'web', CreatedTime: 1767323045, State: { Code: 'active' }, AvailabilityZones: [{ ZoneName: 'us-east-1a' }], SecurityGroups: [] }],
      },
      'req-1',
    );
    assert.equal(
      xml,
      '<DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DescribeLoadBalancersResult>' +
        '<LoadBalancers><member><CreatedTime>2026-01-02T03:04:05.000Z</CreatedTime><LoadBalancerName>web</LoadBalancerName><State><Code>active</Code></State>' +
        '<AvailabilityZones><member><ZoneName>us-east-1a</ZoneName></member></AvailabilityZones><SecurityGroups></SecurityGroups></member></LoadBalancers>' +
        '<NextMarker>m&lt;1&gt;</NextMarker></DescribeLoadBalancersResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DescribeLoadBalancersResponse>',
    );
  });

  it('writes an empty result element for operations without output members', () => {
    assert.match(encodeXml(ELBV2_MODEL, 'DeleteLoadBalancer', {}, 'r'), /^<DeleteLoadBalancerResponse xmlns="[^"]+"><DeleteLoadBalancerResult\/><ResponseMetadata>/);
  });

  it("maps errors to the model's awsQuery code and status, and anything unexpected to InternalFailure", () => {
    const e = toQueryError(ELBV2_MODEL, new LoadBalancerNotFoundException('One or more load balancers not found'));
    assert.deepEqual(e, { status: 400, code: 'LoadBalancerNotFound', type: 'Sender', message: 'One or more load balancers not found', unexpected: false });
    assert.equal(toQueryError(ELBV2_MODEL, new ResourceInUseException('x')).code, 'ResourceInUse');
    assert.equal(toQueryError(ELBV2_MODEL, new ValidationError('bad')).code, 'ValidationError');
    const internal = toQueryError(ELBV2_MODEL, new Error('boom'));
    assert.equal(internal.code, 'InternalFailure');
    assert.equal(internal.status, 500);
    assert.equal(internal.type, 'Receiver');
    assert.doesNotMatch(internal.message, /boom/);
    assert.equal(
      encodeQueryError(ELBV2_MODEL, e, 'r9'),
      '<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>LoadBalancerNotFound</Code><Message>One or more load balancers not found</Message></Error><RequestId>r9</RequestId></ErrorResponse>',
    );
  });
});

describe('awsQuery service', () => {
  const seen: unknown[] = [];
  const service = awsQueryService({
    service: 'elbv2',
    model: ELBV2_MODEL,
    operations: {
      DescribeLoadBalancers: (input) => {
        seen.push(input);
        return Promise.resolve({ LoadBalancers: [] });
      },
      DeleteLoadBalancer: () => Promise.reject(new LoadBalancerNotFoundException('One or more load balancers not found')),
    },
    unsupported: (name) => new ValidationError(`${name} is not implemented`),
  });
  const request = (body: string, extra: Partial<ApiRequest> = {}): ApiRequest => ({
    method: 'POST',
    path: '/',
    query: '',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: Buffer.from(body),
    requestId: 'rid',
    principal: { accessKeyId: 'AK', service: 'elasticloadbalancing', region: 'us-east-1' },
    ...extra,
  });

  it('claims requests signed for its signing name and no other', () => {
    const base = { method: 'POST', path: '/', query: '', headers: {} };
    assert.equal(service.matches({ ...base, principal: { accessKeyId: 'AK', service: 'elasticloadbalancing', region: 'us-east-1' } }), true);
    assert.equal(service.matches({ ...base, principal: { accessKeyId: 'AK', service: 'iam', region: 'us-east-1' } }), false);
  });

  it('answers an operation in XML, from a POST body or a GET query string', async () => {
    const post = await service.handle(request('Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=a&PageSize=5'));
    assert.equal(post.status, 200);
    assert.equal(post.headers['content-type'], 'text/xml');
    assert.match(String(post.body), /^<DescribeLoadBalancersResponse xmlns=".*"><DescribeLoadBalancersResult><LoadBalancers><\/LoadBalancers><\/DescribeLoadBalancersResult>/);
    const get = await service.handle(request('', { method: 'GET', query: 'Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=b' }));
    assert.equal(get.status, 200);
    assert.deepEqual(seen, [{ Names: ['a'], PageSize: 5 }, { Names: ['b'] }]);
  });

  it('answers missing and unknown actions, bad input and domain errors with query XML errors', async () => {
    const cases: [string, number, string, RegExp][] = [
      ['Version=2015-12-01', 400, 'MissingAction', /Missing Action/],
      ['Action=Frobnicate&Version=2015-12-01', 400, 'InvalidAction', /Could not find operation Frobnicate for version 2015-12-01/],
      ['Action=DescribeLoadBalancers&Version=2012-06-01', 400, 'InvalidAction', /Could not find operation DescribeLoadBalancers for version 2012-06-01/],
      ['Action=CreateTrustStore&Version=2015-12-01&Name=a&CaCertificatesBundleS3Bucket=b&CaCertificatesBundleS3Key=c', 400, 'ValidationError', /CreateTrustStore is not implemented/],
      ['Action=DescribeLoadBalancers&Version=2015-12-01&PageSize=ten', 400, 'ValidationError', /STRING_VALUE can not be converted to a Number at 'pageSize'/],
      ['Action=DeleteLoadBalancer&Version=2015-12-01', 400, 'ValidationError', /1 validation error detected: Value null at 'loadBalancerArn' failed to satisfy constraint: Member must not be null/],
      ['Action=DeleteLoadBalancer&Version=2015-12-01&LoadBalancerArn=x', 400, 'LoadBalancerNotFound', /One or more load balancers not found/],
    ];
    for (const [body, status, code, message] of cases) {
      const res = await service.handle(request(body));
      assert.equal(res.status, status, body);
      assert.equal(res.outcome, code, body);
      assert.match(String(res.body), new RegExp(`^<ErrorResponse xmlns="[^"]+"><Error><Type>Sender</Type><Code>${code}</Code><Message>`), body);
      assert.match(String(res.body), message, body);
      assert.match(String(res.body), /<RequestId>rid<\/RequestId><\/ErrorResponse>$/, body);
    }
    const json = await service.handle(request('{"Action":"DescribeLoadBalancers"}', { headers: { 'content-type': 'application/json' } }));
    assert.equal(json.outcome, 'ValidationError');
    assert.match(String(json.body), /must be form-encoded/);
  });
});

describe('awsQuery against the AWS SDK for JavaScript (in process, no network)', () => {
  /** A request handler for an SDK client that hands each request straight to `service.handle`: the SDK's own serializer and XML parser on each side. */
  const inProcess = (service: ReturnType<typeof awsQueryService>, signingName: string) => ({
    async handle(request: HttpRequest) {
      const body = typeof request.body === 'string' ? request.body : Buffer.from(request.body as Uint8Array).toString('utf8');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(request.headers)) headers[k.toLowerCase()] = v;
      const res = await service.handle({
        method: request.method,
        path: request.path,
        query: '',
        headers,
        body: Buffer.from(body),
        requestId: 'sdk-1',
        principal: { accessKeyId: 'AK', service: signingName, region: 'us-east-1' },
      });
      return { response: new HttpResponse({ statusCode: res.status, headers: res.headers, body: Readable.from([Buffer.from(res.body)]) }) };
    },
  });
  const sdkConfig = { region: 'us-east-1', endpoint: 'http://127.0.0.1:1', credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' }, maxAttempts: 1 };
  const clientFor = (service: ReturnType<typeof awsQueryService>): ElasticLoadBalancingV2Client =>
    new ElasticLoadBalancingV2Client({ ...sdkConfig, requestHandler: inProcess(service, 'elasticloadbalancing') });

  it("decodes what the SDK's query serializer sends into the SDK's input, and the SDK parses the XML back into the output", async () => {
    let seen: unknown;
    const created = Math.floor(Date.UTC(2026, 2, 4, 5, 6, 7) / 1000);
    const rule = {
      RuleArn: 'arn:r',
      Priority: '10',
      Conditions: [{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Env', Values: ['a&b', '<c>'] } }],
      Actions: [{ Type: 'forward', Order: 1, ForwardConfig: { TargetGroups: [{ TargetGroupArn: 'arn:tg', Weight: 7 }], TargetGroupStickinessConfig: { Enabled: false } } }],
      IsDefault: false,
    };
    const client = clientFor(
      awsQueryService({
        service: 'elbv2',
        model: ELBV2_MODEL,
        operations: {
          CreateRule: (input) => {
            seen = input;
            return Promise.resolve({ Rules: [rule] });
          },
          DescribeLoadBalancers: () => Promise.resolve({ LoadBalancers: [{ LoadBalancerName: 'web', CreatedTime: created, State: { Code: 'active' }, AvailabilityZones: [] }], NextMarker: 'n' }),
          DeleteRule: () => Promise.reject(new ResourceInUseException('busy')),
        },
        unsupported: (name) => new ValidationError(name),
      }),
    );
    const input = {
      ListenerArn: 'arn:l',
      Priority: 10,
      Conditions: [
        { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Env', Values: ['a&b', '<c>'] } },
        { Field: 'query-string', QueryStringConfig: { Values: [{ Key: 'v', Value: '1 2' }] } },
      ],
      Actions: [{ Type: 'forward' as const, ForwardConfig: { TargetGroups: [{ TargetGroupArn: 'arn:tg', Weight: 7 }], TargetGroupStickinessConfig: { Enabled: false } } }],
      Tags: [{ Key: 'k', Value: '' }],
    };
    const out = await client.send(new CreateRuleCommand(input));
    assert.deepEqual(seen, input);
    assert.deepEqual(out.Rules, [rule]);
    const described = await client.send(new DescribeLoadBalancersCommand({}));
    assert.equal(described.LoadBalancers?.[0]?.CreatedTime?.getTime(), created * 1000);
    assert.deepEqual(described.LoadBalancers?.[0]?.AvailabilityZones, []);
    assert.equal(described.NextMarker, 'n');
    await assert.rejects(client.send(new DeleteRuleCommand({ RuleArn: 'arn:r' })), (err: unknown) => err instanceof SdkResourceInUseException && err.message === 'busy' && err.$metadata.httpStatusCode === 400);
    client.destroy();
  });
  it('serves another query service (IAM: https namespace, 404 errors) with the same codec', async () => {
    class NoSuchEntity extends AwsError {
      override readonly type = 'NoSuchEntityException';
    }
    let seen: unknown;
    const created = Math.floor(Date.UTC(2026, 5, 1) / 1000);
    const iam = new IAMClient({
      ...sdkConfig,
      requestHandler: inProcess(
        awsQueryService({
          service: 'iam',
          model: IAM_MODEL,
          operations: {
            CreateUser: (input) => {
              seen = input;
              return Promise.resolve({ User: { Path: '/', UserName: 'ann', UserId: 'AIDA1', Arn: 'arn:aws:iam::000000000000:user/ann', CreateDate: created, Tags: [{ Key: 'team', Value: 'web' }] } });
            },
            GetUser: () => Promise.reject(new NoSuchEntity('The user with name bob cannot be found.')),
          },
          unsupported: (name) => new ValidationError(name),
        }),
        'iam',
      ),
    });
    const out = await iam.send(new CreateUserCommand({ UserName: 'ann', Tags: [{ Key: 'team', Value: 'web' }] }));
    assert.deepEqual(seen, { UserName: 'ann', Tags: [{ Key: 'team', Value: 'web' }] });
    assert.equal(out.User?.CreateDate?.getTime(), created * 1000);
    assert.deepEqual(out.User?.Tags, [{ Key: 'team', Value: 'web' }]);
    await assert.rejects(iam.send(new GetUserCommand({ UserName: 'bob' })), (err: unknown) => err instanceof NoSuchEntityException && err.$metadata.httpStatusCode === 404 && /bob cannot be found/.test(err.message));
    iam.destroy();
  });
});
