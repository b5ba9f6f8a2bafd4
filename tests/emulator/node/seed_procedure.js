// The seed's procedure and its main refusals through Node clients we did not write: @alicloud/pop-core (legacy
// HMAC-SHA1 RPC, flat Tag.N.Key lists) and the Tea SDK @alicloud/sts20150401 in ACS3 and in v2 signing.
// Usage: node seed_procedure.js <host:port>; prints one JSON object of outcomes for the Python test to check.
'use strict';

const RPCClient = require('@alicloud/pop-core').RPCClient;
const OpenApi = require('@alicloud/openapi-client');
const Sts = require('@alicloud/sts20150401');

const endpoint = process.argv[2];
const OWNER = { id: 'AKIDENTERPRISEA0000001', secret: 'secret-a', uid: '1111111111111111' };
const PARTNER = { id: 'AKIDENTERPRISEB0000001', secret: 'secret-b', uid: '2222222222222222' };
const ROLE_ARN = `acs:ram::${OWNER.uid}:role/node-slb`;

function pop(key, apiVersion, token) {
  const config = { accessKeyId: key.id, accessKeySecret: key.secret, endpoint: `http://${endpoint}`, apiVersion };
  if (token) config.securityToken = token;
  return new RPCClient(config);
}

function tea(key, signatureAlgorithm) {
  const config = new OpenApi.Config({
    accessKeyId: key.id, accessKeySecret: key.secret, endpoint, protocol: 'http', regionId: 'cn-hangzhou',
  });
  if (signatureAlgorithm) config.signatureAlgorithm = signatureAlgorithm;
  return new Sts.default(config);
}

async function code(promise) {
  try {
    await promise;
    return 'OK';
  } catch (error) {
    return error.code || String(error.message).split(':')[0];
  }
}

async function main() {
  const out = {};
  const ramA = pop(OWNER, '2015-05-01');
  const trust = JSON.stringify({
    Version: '1',
    Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { RAM: [`acs:ram::${PARTNER.uid}:user/nodeuser`] } }],
  });
  const created = await ramA.request('CreateRole', {
    RoleName: 'node-slb', AssumeRolePolicyDocument: trust, Tag: [{ Key: 'grant', Value: 'g-7' }],
  }, { method: 'POST' });
  out.createdArn = created.Role.Arn;
  const tagged = await ramA.request('ListRoles', { Tag: [{ Key: 'grant', Value: 'g-7' }] }, { method: 'POST' });
  out.tagged = tagged.Roles.Role.map((role) => role.RoleName);
  await ramA.request('AttachPolicyToRole', {
    RoleName: 'node-slb', PolicyType: 'System', PolicyName: 'AliyunSLBReadOnlyAccess',
  }, { method: 'POST' });

  const ramB = pop(PARTNER, '2015-05-01');
  await ramB.request('CreateUser', { UserName: 'nodeuser' }, { method: 'POST' });
  await ramB.request('AttachPolicyToUser', {
    UserName: 'nodeuser', PolicyType: 'System', PolicyName: 'AliyunSTSAssumeRoleAccess',
  }, { method: 'POST' });
  const key = (await ramB.request('CreateAccessKey', { UserName: 'nodeuser' }, { method: 'POST' })).AccessKey;
  const user = { id: key.AccessKeyId, secret: key.AccessKeySecret };

  const request = new Sts.AssumeRoleRequest({ roleArn: ROLE_ARN, roleSessionName: 'node-42', durationSeconds: 900 });
  const acs3 = await tea(user).assumeRole(request);
  const v2 = await tea(user, 'v2').assumeRole(request);
  out.assumedArns = [acs3.body.assumedRoleUser.arn, v2.body.assumedRoleUser.arn];
  const credentials = acs3.body.credentials;
  const slb = pop({ id: credentials.accessKeyId, secret: credentials.accessKeySecret }, '2014-05-15', credentials.securityToken);
  const listed = await slb.request('DescribeLoadBalancers', { RegionId: 'cn-hangzhou' }, { method: 'POST' });
  out.loadBalancers = listed.TotalCount;

  out.refusals = {
    wrongSecret: await code(pop({ id: OWNER.id, secret: 'wrong' }, '2015-05-01').request('ListUsers', {}, { method: 'POST' })),
    rootAssumes: await code(tea(PARTNER).assumeRole(request)),
    untrustedRole: await code(tea(user).assumeRole(new Sts.AssumeRoleRequest({
      roleArn: `acs:ram::${OWNER.uid}:role/missing`, roleSessionName: 'node-42',
    }))),
    unimplementedFilter: await code(slb.request('DescribeLoadBalancers', { RegionId: 'cn-hangzhou', ServerId: 'i-1' }, { method: 'POST' })),
  };
  await ramA.request('DetachPolicyFromRole', {
    RoleName: 'node-slb', PolicyType: 'System', PolicyName: 'AliyunSLBReadOnlyAccess',
  }, { method: 'POST' });
  out.refusals.detached = await code(slb.request('DescribeLoadBalancers', { RegionId: 'cn-hangzhou' }, { method: 'POST' }));
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
