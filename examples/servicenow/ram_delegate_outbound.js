/*
 * ram-delegate outbound for ServiceNow: an "after update" business rule on your access-request table that sends
 * ram-delegate's own CloudEvent (partner.access.approved / partner.access.revoked), signed the Standard Webhooks way,
 * to the owner-onboard function's HTTP trigger (its root path, not an intake sub-path).
 *
 * Install
 *   1. System Properties: x_ram_delegate.url (the owner-onboard HTTP trigger URL) and x_ram_delegate.secret
 *      (the whsec_... secret of RAM_DELEGATE_WEBHOOK_SECRET; mark the property "password2" so it is stored encrypted).
 *   2. A Script Include named RamDelegate with this file's content (everything up to the module.exports line).
 *   3. A business rule on the access-request table, When: after, Update, condition "State changes", script:
 *          (function executeRule(current, previous) { RamDelegate.onStateChange(current); })(current, previous);
 *   Field names below (u_partner_account_id ...) are examples: map them to your table in FIELDS.
 *
 * Signature (standardwebhooks.com): webhook-signature = "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "."
 * + body)), where key is the base64 part of whsec_... . GlideCertificateEncryption.generateMac takes that base64 key
 * and returns the base64 MAC, so no decoding is needed in the script. The webhook-id is the record's sys_id and
 * update count: the same on a resend, so ram-delegate treats a resend as a duplicate.
 * Retries: a plain RESTMessageV2 does not retry; use executeAsync() with an IntegrationHub retry policy, or resend
 * from the record — the event id makes a resend harmless.
 */
var RamDelegate = (function () {
  var APPROVE_STATES = ['approved'];
  var REVOKE_STATES = ['revoked', 'closed_complete'];
  var FIELDS = {
    partner_name: 'u_partner_name',
    partner_account_id: 'u_partner_account_id',
    partner_user: 'u_partner_ram_user',
    profile: 'u_access_profile',
    region: 'u_region',
    resource_group_id: 'u_resource_group_id',
    expires_at: 'u_expires_at',
    requested_by: 'opened_by',
    approved_by: 'sys_updated_by'
  };

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  function isoUtc(ms) {
    var d = new Date(ms);
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + 'T' +
      pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds()) + 'Z';
  }

  /* record: {get(field) -> string}; returns the CloudEvent object, or null when the state means nothing to us. */
  function buildEvent(record, state, nowMs) {
    var ticket = record.get('number');
    var id = 'snow-' + record.get('sys_id') + '-' + record.get('sys_mod_count');
    var base = { specversion: '1.0', id: id, source: 'servicenow', time: isoUtc(nowMs), subject: ticket };
    if (REVOKE_STATES.indexOf(state) >= 0) {
      base.type = 'partner.access.revoked';
      base.data = { ticket: ticket, reason: 'ServiceNow state ' + state, requested_by: record.get(FIELDS.approved_by) };
      return base;
    }
    if (APPROVE_STATES.indexOf(state) < 0) return null;
    var access = { profile: record.get(FIELDS.profile), region: record.get(FIELDS.region) };
    var group = record.get(FIELDS.resource_group_id);
    if (group) access.resource_group_id = group;
    base.type = 'partner.access.approved';
    base.data = {
      ticket: ticket,
      partner: {
        name: record.get(FIELDS.partner_name),
        account_id: record.get(FIELDS.partner_account_id),
        user: record.get(FIELDS.partner_user)
      },
      access: access,
      expires_at: record.get(FIELDS.expires_at),
      requested_by: record.get(FIELDS.requested_by),
      approved_by: record.get(FIELDS.approved_by)
    };
    return base;
  }

  /* generateMac(base64Key, 'HmacSHA256', data) -> base64, i.e. GlideCertificateEncryption.generateMac. */
  function signHeaders(secret, msgId, timestampSeconds, body, generateMac) {
    var key = secret.indexOf('whsec_') === 0 ? secret.substring(6) : secret;
    var signed = msgId + '.' + timestampSeconds + '.' + body;
    return {
      'webhook-id': msgId,
      'webhook-timestamp': String(timestampSeconds),
      'webhook-signature': 'v1,' + generateMac(key, 'HmacSHA256', signed),
      'content-type': 'application/json'
    };
  }

  function webhookId(eventId) { return eventId.replace(/[^A-Za-z0-9_-]/g, '_').substring(0, 256); }

  /* The business rule's entry point (ServiceNow only: GlideRecord, gs, sn_ws). */
  function onStateChange(current) {
    var record = { get: function (name) { return String(current.getValue(name) || ''); } };
    var event = buildEvent(record, String(current.getValue('state')), new Date().getTime());
    if (!event) return;
    var body = JSON.stringify(event);
    var mac = new GlideCertificateEncryption();
    var headers = signHeaders(gs.getProperty('x_ram_delegate.secret'), webhookId(event.id),
      Math.floor(new Date().getTime() / 1000), body, function (k, a, d) { return mac.generateMac(k, a, d); });
    var request = new sn_ws.RESTMessageV2();
    request.setEndpoint(gs.getProperty('x_ram_delegate.url'));
    request.setHttpMethod('post');
    for (var name in headers) request.setRequestHeader(name, headers[name]);
    request.setRequestBody(body);
    var response = request.execute();
    current.work_notes = 'ram-delegate: HTTP ' + response.getStatusCode() + ' for ' + event.type;
    current.update();
  }

  return { buildEvent: buildEvent, signHeaders: signHeaders, webhookId: webhookId, onStateChange: onStateChange };
})();

if (typeof module !== 'undefined') module.exports = RamDelegate;
