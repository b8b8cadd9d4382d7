// Interop check: drive the leadbridge Dataverse emulator with an unmodified,
// widely used third-party Web API client (dynamics-web-api) and Microsoft's
// own token library (@azure/msal-node), the way a Node integration would talk
// to a real Dataverse org. If the emulator drifts from Dataverse in a way these
// libraries notice, a step here fails with the request and the library's error.
//
// Run by emulator/interop_test.go. Environment:
//   EMULATOR_URL            https://127.0.0.1:PORT (Dataverse URL and authority host)
//   EMULATOR_TENANT_ID      tenant segment of the authority
//   EMULATOR_CLIENT_ID      app registration accepted by the emulator
//   EMULATOR_CLIENT_SECRET
//   NODE_EXTRA_CA_CERTS     the emulator's ca.pem (no TLS verification is disabled)
//
// The emulator must have leads' alternate key set to emailaddress1
// (PUT /_emulator/config {"alternate_keys":{"leads":["emailaddress1"]}}), as
// an org that dedupes leads by email would define it; the test does that.
//
// On success the last line is "INTEROP-RESULT <json>" naming the rows it
// created, so the Go test can check them over the Web API on its own.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { ConfidentialClientApplication, LogLevel } from "@azure/msal-node";
import { DynamicsWebApi } from "dynamics-web-api";

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`interop: environment variable ${name} is required`);
    process.exit(2);
  }
  return v;
};

// @azure/msal-node 7 declares engines node >=20; say so rather than fail oddly.
if (Number(process.versions.node.split(".")[0]) < 20) {
  console.error(`interop: Node.js 20 or newer is required, this is ${process.version}`);
  process.exit(2);
}

const url = env("EMULATOR_URL").replace(/\/+$/, "");
const tenant = env("EMULATOR_TENANT_ID");
const clientId = env("EMULATOR_CLIENT_ID");
const clientSecret = env("EMULATOR_CLIENT_SECRET");
if (process.env.NODE_TLS_REJECT_UNAUTHORIZED === "0") {
  console.error("interop: NODE_TLS_REJECT_UNAUTHORIZED=0 is set; the check must run with TLS verification on");
  process.exit(2);
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const WEAK_ETAG = /^W\/"[^"]+"$/;
// A per-run tag keeps rows from different runs apart if the emulator is shared.
const run = randomUUID().slice(0, 8);

let current = "";
async function step(name, fn) {
  current = name;
  const started = Date.now();
  await fn();
  console.log(`ok   ${name} (${Date.now() - started} ms)`);
}

// expectError runs fn, which must reject, and returns the library's error.
async function expectError(fn, what) {
  try {
    const got = await fn();
    assert.fail(`${what}: want an error, got ${JSON.stringify(got)}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    return err;
  }
}

const describe = (err) => {
  if (Array.isArray(err)) return `batch errors: ${err.map(describe).join("; ")}`;
  if (!(err instanceof Error)) return JSON.stringify(err);
  const fields = {};
  for (const k of ["status", "statusMessage", "code", "message", "error", "errorCode"]) {
    if (err[k] !== undefined && err[k] !== "") fields[k] = err[k];
  }
  if (err.headers) fields.headers = err.headers;
  if (err.cause) fields.cause = String(err.cause);
  if (err instanceof assert.AssertionError) return err.message;
  return `${err.name}: ${err.message} ${JSON.stringify(fields)}`;
};

async function main() {
  const result = { run };

  // ---- token ---------------------------------------------------------------
  const msal = new ConfidentialClientApplication({
    auth: {
      clientId,
      clientSecret,
      authority: `${url}/${tenant}`,
      // A host that is not a Microsoft cloud: trust it as a known authority,
      // which skips instance discovery and reads its OpenID configuration.
      knownAuthorities: [new URL(url).host],
    },
    system: {
      loggerOptions: {
        logLevel: LogLevel.Warning,
        piiLoggingEnabled: false,
        loggerCallback: (_level, message) => console.error(`msal: ${message}`),
      },
    },
  });
  const scopes = [`${url}/.default`];
  const getToken = async () => {
    const res = await msal.acquireTokenByClientCredential({ scopes });
    assert.ok(res && res.accessToken, "MSAL returned no access token");
    return res.accessToken;
  };

  await step("msal: acquireTokenByClientCredential", async () => {
    const res = await msal.acquireTokenByClientCredential({ scopes });
    assert.ok(res, "no result");
    assert.equal(typeof res.accessToken, "string");
    assert.ok(res.accessToken.length > 20, `access token too short: ${res.accessToken}`);
    assert.equal(res.tokenType, "Bearer");
    assert.ok(res.expiresOn instanceof Date && res.expiresOn.getTime() > Date.now() + 60_000,
      `expiresOn ${res.expiresOn} should be well in the future`);
    const again = await msal.acquireTokenByClientCredential({ scopes });
    assert.equal(again.fromCache, true, "second acquisition should come from MSAL's cache");
  });

  const api = new DynamicsWebApi({
    serverUrl: url,
    dataApi: { version: "9.2" },
    onTokenRefresh: getToken,
    timeout: 15_000,
  });

  await step("callFunction WhoAmI", async () => {
    const me = await api.callFunction({ name: "WhoAmI" });
    for (const k of ["UserId", "BusinessUnitId", "OrganizationId"]) assert.match(me[k] ?? "", GUID, `${k} in ${JSON.stringify(me)}`);
  });

  // ---- create --------------------------------------------------------------
  const email = `o'brien+test-${run}@example.com`;
  const lead = {
    subject: `Interop ${run}: pricing`,
    firstname: "Zoë",
    lastname: "O'Brien",
    emailaddress1: email,
    companyname: "Interop & Co",
    leadsourcecode: 8,
  };
  let created;
  await step("create lead (return=representation, $select)", async () => {
    created = await api.create({
      collection: "leads",
      data: lead,
      returnRepresentation: true,
      select: ["leadid", "subject", "firstname", "lastname", "emailaddress1", "companyname", "leadsourcecode"],
    });
    assert.match(created.leadid ?? "", GUID, `leadid in ${JSON.stringify(created)}`);
    assert.match(created["@odata.etag"] ?? "", WEAK_ETAG, "@odata.etag");
    assert.match(created.oDataContext ?? "", /\$metadata#leads/, "@odata.context");
    for (const k of Object.keys(lead)) assert.equal(created[k], lead[k], `created.${k}`);
  });
  result.leadId = created.leadid;
  result.leadEmail = email;

  await step("create lead (204, id from OData-EntityId)", async () => {
    const id = await api.create({
      collection: "leads",
      data: { subject: `Interop ${run}: plain`, lastname: "Plain", emailaddress1: `plain-${run}@example.com` },
    });
    assert.match(id ?? "", GUID, `create without representation returned ${JSON.stringify(id)}`);
    result.plainLeadId = id;
  });

  // ---- query ---------------------------------------------------------------
  await step("retrieveMultiple $filter with '' and + (case-insensitive eq)", async () => {
    const literal = email.toUpperCase().replaceAll("'", "''");
    const res = await api.retrieveMultiple({
      collection: "leads",
      select: ["leadid", "emailaddress1"],
      filter: `emailaddress1 eq '${literal}' and statecode eq 0`,
      count: true,
    });
    assert.ok(Array.isArray(res.value), `value in ${JSON.stringify(res)}`);
    assert.equal(res.value.length, 1, `rows for ${literal}: ${JSON.stringify(res.value)}`);
    assert.equal(res.value[0].leadid, created.leadid);
    assert.equal(res.value[0].emailaddress1, email);
    assert.equal(res.oDataCount, 1, "@odata.count");
  });

  await step("retrieveMultiple contains()/startswith() and a miss", async () => {
    const hit = await api.retrieveMultiple({
      collection: "leads",
      select: ["leadid"],
      filter: `contains(emailaddress1,'+test-${run}') and startswith(lastname,'O''Bri')`,
    });
    assert.deepEqual(hit.value.map((r) => r.leadid), [created.leadid]);
    const miss = await api.retrieveMultiple({
      collection: "leads",
      select: ["leadid"],
      filter: `emailaddress1 eq 'obrien+test-${run}@example.com'`,
    });
    assert.deepEqual(miss.value, [], "a + read as a space or a dropped quote would change this");
  });

  await step("retrieveMultiple $top, $orderby, odata.maxpagesize paging", async () => {
    const top = await api.retrieveMultiple({
      collection: "leads",
      select: ["leadid", "subject"],
      filter: `startswith(subject,'Interop ${run}:')`,
      orderBy: ["subject desc"],
      top: 1,
    });
    assert.equal(top.value.length, 1);
    assert.equal(top.value[0].subject, `Interop ${run}: pricing`, "subject desc puts 'pricing' before 'plain'");
    const all = await api.retrieveAll({
      collection: "leads",
      select: ["leadid"],
      filter: `startswith(subject,'Interop ${run}:')`,
      maxPageSize: 1,
    });
    assert.equal(all.value.length, 2, `retrieveAll over nextLink pages: ${JSON.stringify(all)}`);
  });

  await step("retrieveMultiple with a >2000-char In() filter (library sends it as $batch)", async () => {
    const values = [email];
    for (let i = 0; values.join(",").length < 2400; i++) values.push(`nobody-${i}-${run}@example.com`);
    const filter =
      "Microsoft.Dynamics.CRM.In(PropertyName='emailaddress1',PropertyValues=[" +
      values.map((v) => JSON.stringify(v)).join(",") +
      "])";
    const res = await api.retrieveMultiple({ collection: "leads", select: ["leadid"], filter });
    assert.deepEqual(res.value.map((r) => r.leadid), [created.leadid]);
  });

  // ---- retrieve ------------------------------------------------------------
  let etag;
  await step("retrieve by id ($select)", async () => {
    const got = await api.retrieve({
      collection: "leads",
      key: created.leadid,
      select: ["subject", "emailaddress1", "leadsourcecode", "fullname", "createdon", "statecode", "statuscode"],
    });
    assert.equal(got.leadid, created.leadid, "primary key is always returned");
    assert.equal(got.fullname, "Zoë O'Brien", "fullname is composed from firstname and lastname");
    assert.equal(got.statecode, 0, "new leads are Open");
    assert.equal(got.statuscode, 1, "new leads are New");
    assert.ok(got.createdon instanceof Date, `createdon ${got.createdon} should parse as an ISO date`);
    assert.ok(Math.abs(got.createdon.getTime() - Date.now()) < 5 * 60_000, `createdon ${got.createdon.toISOString()} is not now`);
    assert.equal(got.subject, lead.subject);
    assert.equal(got.emailaddress1, email);
    assert.equal(got.leadsourcecode, 8);
    assert.match(got["@odata.etag"] ?? "", WEAK_ETAG);
    etag = got["@odata.etag"];
  });

  await step("retrieve a missing id: 404 0x80040217", async () => {
    const missing = randomUUID();
    const err = await expectError(() => api.retrieve({ collection: "leads", key: missing, select: ["leadid"] }), "retrieve missing");
    assert.equal(err.status, 404, describe(err));
    assert.equal(err.code, "0x80040217", describe(err));
  });

  await step("retrieve with If-None-Match: <etag>: 304, library returns nothing", async () => {
    const got = await api.retrieve({ collection: "leads", key: created.leadid, select: ["subject"], ifnonematch: etag });
    assert.equal(got, undefined, `unchanged row should be 304: ${JSON.stringify(got)}`);
  });

  await step("count: leads/$count (text/plain) and $count=true with a filter", async () => {
    const all = await api.count({ collection: "leads" });
    assert.equal(typeof all, "number", `leads/$count gave ${JSON.stringify(all)}`);
    assert.ok(all >= 2, `leads/$count = ${all}, want at least the 2 rows created so far`);
    const filtered = await api.count({ collection: "leads", filter: `startswith(subject,'Interop ${run}:')` });
    assert.equal(filtered, 2);
  });

  // ---- update --------------------------------------------------------------
  await step("update (If-Match: *)", async () => {
    const ok = await api.update({ collection: "leads", key: created.leadid, data: { subject: `Interop ${run}: updated` } });
    assert.equal(ok, true);
    const got = await api.retrieve({ collection: "leads", key: created.leadid, select: ["subject"] });
    assert.equal(got.subject, `Interop ${run}: updated`);
    assert.notEqual(got["@odata.etag"], etag, "etag must change on update");
  });

  await step("update with a stale etag: 412, library returns false", async () => {
    const ok = await api.update({ collection: "leads", key: created.leadid, ifmatch: etag, data: { subject: "stale" } });
    assert.equal(ok, false);
    const got = await api.retrieve({ collection: "leads", key: created.leadid, select: ["subject"] });
    assert.equal(got.subject, `Interop ${run}: updated`, "a stale etag must not write");
  });

  await step("update (return=representation)", async () => {
    const got = await api.update({
      collection: "leads",
      key: created.leadid,
      data: { jobtitle: "Buyer" },
      returnRepresentation: true,
      select: ["jobtitle", "subject"],
    });
    assert.equal(got.leadid, created.leadid);
    assert.equal(got.jobtitle, "Buyer");
    assert.equal(got.subject, `Interop ${run}: updated`);
  });

  await step("updateSingleProperty: PUT leads(id)/description", async () => {
    await api.updateSingleProperty({ collection: "leads", key: created.leadid, fieldValuePair: { description: "one column" } });
    const got = await api.retrieve({ collection: "leads", key: created.leadid, select: ["description", "subject"] });
    assert.equal(got.description, "one column");
    assert.equal(got.subject, `Interop ${run}: updated`, "other columns untouched");
  });

  await step("update a missing id: 404 (If-Match: * never creates)", async () => {
    const missing = randomUUID();
    const err = await expectError(
      () => api.update({ collection: "leads", key: missing, data: { subject: "nope" } }),
      "update missing",
    );
    assert.equal(err.status, 404, describe(err));
    assert.equal(err.code, "0x80040217", describe(err));
  });

  // ---- upsert --------------------------------------------------------------
  const upsertId = randomUUID();
  result.upsertId = upsertId;
  await step("upsert by id: creates when missing", async () => {
    const id = await api.upsert({
      collection: "leads",
      key: upsertId,
      data: { subject: `Interop ${run}: upsert`, lastname: "Upsert", emailaddress1: `upsert-${run}@example.com` },
    });
    assert.equal(id, upsertId, "OData-EntityId of the upserted row");
    const got = await api.retrieve({ collection: "leads", key: upsertId, select: ["subject"] });
    assert.equal(got.subject, `Interop ${run}: upsert`);
  });

  await step("upsert by id: updates when present (return=representation)", async () => {
    const got = await api.upsert({
      collection: "leads",
      key: upsertId,
      data: { subject: `Interop ${run}: upsert 2` },
      returnRepresentation: true,
      select: ["subject", "lastname"],
    });
    assert.equal(got.leadid, upsertId);
    assert.equal(got.subject, `Interop ${run}: upsert 2`);
    assert.equal(got.lastname, "Upsert", "columns not sent are kept");
  });

  await step("upsert If-None-Match: * on an existing row: 412, library returns null", async () => {
    const got = await api.upsert({ collection: "leads", key: upsertId, ifnonematch: "*", data: { subject: "no" } });
    assert.equal(got, null);
  });

  await step("upsert If-Match: * on a missing row: 404, library returns null, nothing created", async () => {
    const missing = randomUUID();
    const got = await api.upsert({ collection: "leads", key: missing, ifmatch: "*", data: { subject: "no" } });
    assert.equal(got, null);
    const err = await expectError(() => api.retrieve({ collection: "leads", key: missing, select: ["leadid"] }), "retrieve after refused upsert");
    assert.equal(err.status, 404, describe(err));
  });

  const keyEmail = `o'neil+key-${run}@example.com`;
  const keyRef = `emailaddress1='${keyEmail.replaceAll("'", "''")}'`;
  await step("upsert by alternate key with '' and + in the key: create, then update", async () => {
    const created = await api.upsert({
      collection: "leads",
      key: keyRef,
      data: { subject: `Interop ${run}: by key`, lastname: "O'Neil" },
    });
    // Dataverse answers an upsert by alternate key with OData-EntityId in key
    // form, which holds no id for the library to return.
    assert.equal(created, undefined, `upsert by key returned ${JSON.stringify(created)}, want no id (key-form OData-EntityId)`);
    const { leadid: id } = await api.retrieve({ collection: "leads", key: keyRef, select: ["leadid"] });
    assert.match(id ?? "", GUID, `retrieve by key returned ${JSON.stringify(id)}`);
    result.keyLeadId = id;
    result.keyEmail = keyEmail;
    const again = await api.upsert({
      collection: "leads",
      key: keyRef,
      data: { subject: `Interop ${run}: by key 2` },
      returnRepresentation: true,
      select: ["subject", "emailaddress1", "lastname"],
    });
    assert.equal(again.leadid, id, "the second upsert must update the same row");
    assert.equal(again.subject, `Interop ${run}: by key 2`);
    assert.equal(again.emailaddress1, keyEmail, "key values from the URL are stored on create");
    assert.equal(again.lastname, "O'Neil");
    const byKey = await api.retrieve({ collection: "leads", key: keyRef, select: ["leadid"] });
    assert.equal(byKey.leadid, id);
  });

  await step("create a lead whose alternate key is taken: 0x80060892", async () => {
    const err = await expectError(
      () => api.create({ collection: "leads", data: { subject: "dup", lastname: "Dup", emailaddress1: keyEmail } }),
      "duplicate alternate key",
    );
    assert.equal(err.code, "0x80060892", describe(err));
  });

  await step("deleteRecord, then the row is gone", async () => {
    const id = await api.create({ collection: "leads", data: { subject: `Interop ${run}: delete me`, lastname: "Gone" } });
    const ok = await api.deleteRecord({ collection: "leads", key: id });
    assert.equal(ok, true);
    const err = await expectError(() => api.retrieve({ collection: "leads", key: id, select: ["leadid"] }), "retrieve deleted");
    assert.equal(err.status, 404, describe(err));
    result.deletedLeadId = id;
  });

  // ---- @odata.bind ---------------------------------------------------------
  await step("create contact, then lead with parentcontactid@odata.bind", async () => {
    const contactId = await api.create({
      collection: "contacts",
      data: { firstname: "Ann", lastname: `Lee ${run}`, emailaddress1: `ann-${run}@example.com` },
    });
    assert.match(contactId ?? "", GUID);
    result.contactId = contactId;
    const bound = await api.create({
      collection: "leads",
      data: {
        subject: `Interop ${run}: bound`,
        lastname: "Lee",
        emailaddress1: `ann-${run}@example.com`,
        "parentcontactid@odata.bind": `/contacts(${contactId})`,
      },
      returnRepresentation: true,
      select: ["leadid", "_parentcontactid_value"],
    });
    assert.equal(bound._parentcontactid_value, contactId, JSON.stringify(bound));
    result.boundLeadId = bound.leadid;
    const byLookup = await api.retrieveMultiple({
      collection: "leads",
      select: ["leadid"],
      filter: `_parentcontactid_value eq ${contactId}`,
    });
    assert.deepEqual(byLookup.value.map((r) => r.leadid), [bound.leadid]);
  });

  await step("@odata.bind to a missing contact: 404", async () => {
    const err = await expectError(
      () => api.create({
        collection: "leads",
        data: { subject: "orphan", lastname: "X", "parentcontactid@odata.bind": `/contacts(${randomUUID()})` },
      }),
      "bind to missing contact",
    );
    assert.equal(err.status, 404, describe(err));
  });

  // ---- annotations (Prefer: odata.include-annotations) -----------------------
  await step("retrieve with FormattedValue: choice, state, status, Yes/No, date and owner labels", async () => {
    const got = await api.retrieve({
      collection: "leads",
      key: created.leadid,
      select: ["leadsourcecode", "statecode", "statuscode", "donotemail", "createdon", "_ownerid_value"],
      includeAnnotations: "OData.Community.Display.V1.FormattedValue",
    });
    assert.equal(got.leadsourcecode_Formatted, "Web", JSON.stringify(got));
    assert.equal(got.statecode_Formatted, "Open");
    assert.equal(got.statuscode_Formatted, "New");
    assert.equal(got.donotemail_Formatted, "Allow");
    assert.match(got.createdon_Formatted ?? "", /^\d{1,2}\/\d{1,2}\/\d{4} \d{1,2}:\d{2} (AM|PM)$/);
    assert.equal(got._ownerid_value_Formatted, `# ${clientId}`, "an application user is named '# <app>'");
    assert.equal(got._ownerid_value_LogicalName, undefined, "only the annotations asked for");
  });

  await step("retrieve with annotations \"*\": a lookup's name, navigation property and table", async () => {
    const got = await api.retrieve({
      collection: "leads",
      key: result.boundLeadId,
      select: ["_parentcontactid_value"],
      includeAnnotations: "*",
    });
    assert.equal(got._parentcontactid_value, result.contactId);
    assert.equal(got._parentcontactid_value_Formatted, `Ann Lee ${run}`);
    assert.equal(got._parentcontactid_value_NavigationProperty, "parentcontactid");
    assert.equal(got._parentcontactid_value_LogicalName, "contact");
  });

  await step("retrieveMultiple $count=true with totalrecordcount annotations", async () => {
    const res = await api.retrieveMultiple({
      collection: "leads",
      select: ["leadid"],
      filter: `startswith(subject,'Interop ${run}:')`,
      count: true,
      includeAnnotations: "Microsoft.Dynamics.CRM.totalrecordcount,Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded",
    });
    assert.ok(res.oDataCount > 0, JSON.stringify(res));
    assert.equal(res["@Microsoft.Dynamics.CRM.totalrecordcount"], res.oDataCount);
    assert.equal(res["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"], false);
    assert.equal(res.value.length, res.oDataCount);
  });

  // ---- single-valued $ref ----------------------------------------------------
  await step("associateSingleValued: PUT contacts(id)/parentcustomerid_account/$ref", async () => {
    const accountId = await api.create({ collection: "accounts", data: { name: `Interop ${run} Ltd` } });
    assert.match(accountId ?? "", GUID);
    result.accountId = accountId;
    await api.associateSingleValued({
      collection: "contacts",
      primaryKey: result.contactId,
      navigationProperty: "parentcustomerid_account",
      relatedCollection: "accounts",
      relatedKey: accountId,
    });
    const got = await api.retrieve({ collection: "contacts", key: result.contactId, select: ["_parentcustomerid_value"], includeAnnotations: "*" });
    assert.equal(got._parentcustomerid_value, accountId);
    assert.equal(got._parentcustomerid_value_NavigationProperty, "parentcustomerid_account");
  });

  await step("associate/disassociate a lead's parentcontactid, from either side", async () => {
    const leadId = await api.create({ collection: "leads", data: { subject: `Interop ${run}: ref`, lastname: "Ref" } });
    const lookup = async () =>
      (await api.retrieve({ collection: "leads", key: leadId, select: ["_parentcontactid_value"] }))._parentcontactid_value;
    await api.associateSingleValued({
      collection: "leads",
      primaryKey: leadId,
      navigationProperty: "parentcontactid",
      relatedCollection: "contacts",
      relatedKey: result.contactId,
    });
    assert.equal(await lookup(), result.contactId, "PUT leads(id)/parentcontactid/$ref");
    await api.disassociateSingleValued({ collection: "leads", primaryKey: leadId, navigationProperty: "parentcontactid" });
    assert.equal(await lookup(), null, "DELETE leads(id)/parentcontactid/$ref");
    await api.associate({
      collection: "contacts",
      primaryKey: result.contactId,
      relationshipName: "lead_parent_contact",
      relatedCollection: "leads",
      relatedKey: leadId,
    });
    assert.equal(await lookup(), result.contactId, "POST contacts(id)/lead_parent_contact/$ref");
    await api.disassociate({ collection: "contacts", primaryKey: result.contactId, relationshipName: "lead_parent_contact", relatedKey: leadId });
    assert.equal(await lookup(), null, "DELETE contacts(id)/lead_parent_contact(leadid)/$ref");
    await api.associateSingleValued({
      collection: "leads",
      primaryKey: leadId,
      navigationProperty: "parentcontactid",
      relatedCollection: "contacts",
      relatedKey: result.contactId,
    });
    result.refLeadId = leadId;
  });

  await step("associateSingleValued to a missing contact: 404 0x80040217", async () => {
    const err = await expectError(
      () => api.associateSingleValued({
        collection: "leads",
        primaryKey: result.refLeadId,
        navigationProperty: "parentcontactid",
        relatedCollection: "contacts",
        relatedKey: randomUUID(),
      }),
      "associate to a missing contact",
    );
    assert.equal(err.status, 404, describe(err));
    assert.equal(err.code, "0x80040217", describe(err));
  });

  // ---- $expand ---------------------------------------------------------------
  await step("retrieve with nested $expand (lead → contact → account)", async () => {
    const got = await api.retrieve({
      collection: "leads",
      key: result.boundLeadId,
      select: ["subject"],
      expand: [{ property: "parentcontactid", select: ["fullname"], expand: [{ property: "parentcustomerid_account", select: ["name"] }] }],
    });
    assert.equal(got.parentcontactid?.contactid, result.contactId, JSON.stringify(got));
    assert.equal(got.parentcontactid.fullname, `Ann Lee ${run}`);
    assert.equal(got.parentcontactid.parentcustomerid_account?.name, `Interop ${run} Ltd`);
    assert.equal(got.parentcontactid.parentcustomerid_account.accountid, result.accountId);
  });

  await step("retrieveMultiple with $expand: a null lookup expands to null", async () => {
    const res = await api.retrieveMultiple({
      collection: "leads",
      select: ["leadid"],
      filter: `leadid eq ${result.boundLeadId} or leadid eq ${result.plainLeadId}`,
      expand: [{ property: "parentcontactid", select: ["lastname"] }],
    });
    const byId = Object.fromEntries(res.value.map((r) => [r.leadid, r]));
    assert.equal(byId[result.boundLeadId]?.parentcontactid?.lastname, `Lee ${run}`, JSON.stringify(res.value));
    assert.equal(byId[result.plainLeadId]?.parentcontactid, null);
  });

  await step("retrieve a contact with a collection-valued $expand (lead_parent_contact)", async () => {
    const got = await api.retrieve({
      collection: "contacts",
      key: result.contactId,
      select: ["fullname"],
      expand: [{ property: "lead_parent_contact", select: ["subject"], filter: `startswith(subject,'Interop ${run}:')`, orderBy: ["subject"] }],
    });
    const ids = (got.lead_parent_contact ?? []).map((l) => l.leadid).sort();
    assert.deepEqual(ids, [result.boundLeadId, result.refLeadId].sort(), JSON.stringify(got));
    for (const l of got.lead_parent_contact) assert.equal(l._parentcontactid_value, result.contactId, "the lookup back to the contact");
  });

  await step("create (return=representation) with $expand", async () => {
    const got = await api.create({
      collection: "leads",
      data: { subject: `Interop ${run}: expanded`, lastname: "X", "customerid_contact@odata.bind": `/contacts(${result.contactId})` },
      returnRepresentation: true,
      select: ["subject"],
      expand: [{ property: "customerid_contact", select: ["fullname"] }, { property: "customerid_account" }],
    });
    assert.equal(got.customerid_contact?.fullname, `Ann Lee ${run}`, JSON.stringify(got));
    assert.equal(got.customerid_account, null, "the customer is a contact, not an account");
  });

  await step("$expand of an unknown navigation property: 400", async () => {
    const err = await expectError(
      () => api.retrieve({ collection: "leads", key: result.boundLeadId, select: ["subject"], expand: [{ property: "nosuchnav" }] }),
      "expand unknown",
    );
    assert.equal(err.status, 400, describe(err));
    assert.equal(err.message, "Could not find a property named 'nosuchnav' on type 'Microsoft.Dynamics.CRM.lead'.", describe(err));
  });

  // ---- $batch --------------------------------------------------------------
  await step("batch: GET + change set (Content-ID $ref) + creates outside a change set", async () => {
    api.startBatch();
    api.retrieveMultiple({ collection: "leads", select: ["leadid"], filter: `leadid eq ${created.leadid}` });
    api.create({
      collection: "contacts",
      contentId: "1",
      data: { firstname: "Bea", lastname: `Batch ${run}`, emailaddress1: `bea-${run}@example.com` },
    });
    api.create({
      collection: "leads",
      data: {
        subject: `Interop ${run}: batch bound`,
        lastname: "Batch",
        emailaddress1: `bea-${run}@example.com`,
        "parentcontactid@odata.bind": "$1",
      },
    });
    for (let i = 0; i < 3; i++) {
      api.create({
        collection: "leads",
        inChangeSet: false,
        data: { subject: `Interop ${run}: batch ${i}`, lastname: "Batch", emailaddress1: `batch-${i}-${run}@example.com` },
      });
    }
    const responses = await api.executeBatch();
    assert.equal(responses.length, 6, JSON.stringify(responses));
    assert.deepEqual(responses[0].value?.map((r) => r.leadid), [created.leadid], "GET part");
    for (let i = 1; i < 6; i++) assert.match(responses[i] ?? "", GUID, `part ${i}: ${JSON.stringify(responses[i])}`);
    result.batchContactId = responses[1];
    result.batchBoundLeadId = responses[2];
    result.batchLeadIds = responses.slice(3);
    const bound = await api.retrieve({ collection: "leads", key: responses[2], select: ["_parentcontactid_value"] });
    assert.equal(bound._parentcontactid_value, responses[1], "$1 must resolve to the contact created in the change set");
  });

  await step("batch: PUT $1/parentcontactid/$ref with {\"@odata.id\":\"$2\"} in a change set", async () => {
    api.startBatch();
    api.create({ collection: "leads", contentId: "1", data: { subject: `Interop ${run}: batch ref`, lastname: "BatchRef" } });
    api.create({ collection: "contacts", contentId: "2", data: { firstname: "Cy", lastname: `BatchRef ${run}` } });
    api.associateSingleValued({ contentId: "$1", navigationProperty: "parentcontactid", relatedKey: "$2" });
    const responses = await api.executeBatch();
    assert.equal(responses.length, 3, JSON.stringify(responses));
    assert.match(responses[0] ?? "", GUID, `lead part: ${JSON.stringify(responses[0])}`);
    assert.match(responses[1] ?? "", GUID, `contact part: ${JSON.stringify(responses[1])}`);
    const got = await api.retrieve({
      collection: "leads",
      key: responses[0],
      select: ["_parentcontactid_value"],
      expand: [{ property: "parentcontactid", select: ["fullname"] }],
    });
    assert.equal(got._parentcontactid_value, responses[1], "$2 resolved to the contact created in the change set");
    assert.equal(got.parentcontactid?.contactid, responses[1], JSON.stringify(got));
    assert.equal(got.parentcontactid.fullname, `Cy BatchRef ${run}`);
    result.batchRefLeadId = responses[0];
    result.batchRefContactId = responses[1];
  });

  await step("batch: a failing change set rolls back as a whole", async () => {
    const doomed = `doomed-${run}@example.com`;
    api.startBatch();
    api.create({ collection: "leads", data: { subject: `Interop ${run}: doomed`, lastname: "Doomed", emailaddress1: doomed } });
    api.create({ collection: "leads", data: { subject: "bad", lastname: "Bad", nosuchcolumn_xyz: 1 } });
    const err = await expectError(() => api.executeBatch(), "batch with a bad change set");
    const errs = Array.isArray(err) ? err : [err];
    assert.ok(errs.some((e) => e.status === 400), `want a 400 part, got ${describe(err)}`);
    result.rolledBackEmail = doomed;
    const res = await api.retrieveMultiple({ collection: "leads", select: ["leadid"], filter: `emailaddress1 eq '${doomed}'` });
    assert.deepEqual(res.value, [], "the good create in the failed change set must be rolled back");
  });

  await step("batch: odata.continue-on-error returns every part", async () => {
    api.startBatch();
    api.create({ collection: "leads", inChangeSet: false, data: { subject: "bad", lastname: "Bad", nosuchcolumn_xyz: 1 } });
    api.create({
      collection: "leads",
      inChangeSet: false,
      data: { subject: `Interop ${run}: after error`, lastname: "After", emailaddress1: `after-${run}@example.com` },
    });
    const responses = await api.executeBatch({ continueOnError: true });
    assert.equal(responses.length, 2, JSON.stringify(responses));
    assert.ok(responses[0] instanceof Error, `part 0 should be an error: ${JSON.stringify(responses[0])}`);
    assert.equal(responses[0].status, 400, describe(responses[0]));
    assert.match(responses[1] ?? "", GUID, `part 1: ${JSON.stringify(responses[1])}`);
    result.afterErrorLeadId = responses[1];
  });

  console.log(`INTEROP-RESULT ${JSON.stringify(result)}`);
}

main().catch((err) => {
  console.error(`FAIL ${current}\n  ${describe(err)}`);
  if (err && err.stack && !(err instanceof assert.AssertionError)) console.error(err.stack);
  process.exit(1);
});
