//! The one table of evidence kinds: every kind of fact siemproof reads, with the endpoint it comes
//! from, its api-version, the token audience and the least permission that reads it.
//!
//! The collector walks this table, `siemproof permissions` prints it, the normaliser and the check
//! catalogue refer to kinds by their stable names, and a catalogue lint rejects unknown names.
//! Sources: `reference/microsoft-apis.md` section 1 (endpoint table) and section 7 (clouds).

use serde::Serialize;

/// Which API plane a kind comes from; also the folder under `raw/` in a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Plane {
    /// Azure Resource Manager (`management.azure.com` and its sovereign twins).
    Arm,
    /// Microsoft Graph v1.0.
    Graph,
    /// Office 365 Management Activity API (`manage.office.com`).
    O365,
    /// Results of `siemproof probe` on the SIEM collector host.
    Probe,
    /// Files written by people: attestations, the config that travels with the bundle.
    Local,
    /// Read-only responses of the SIEM's own API.
    Siem,
    /// The Blob service of the checkpoint storage account (data plane, Entra ID token).
    Blob,
    /// The Event Hubs namespace over AMQP: only the `$management` node's READ operations.
    Amqp,
    /// Azure Monitor's regional metrics hosts (`{region}.metrics.monitor.azure.com`): the
    /// batched metrics read.
    Metrics,
}

impl Plane {
    pub fn as_str(self) -> &'static str {
        match self {
            Plane::Arm => "arm",
            Plane::Graph => "graph",
            Plane::O365 => "o365",
            Plane::Probe => "probe",
            Plane::Local => "local",
            Plane::Siem => "siem",
            Plane::Blob => "blob",
            Plane::Amqp => "amqp",
            Plane::Metrics => "metrics",
        }
    }
}

/// One evidence kind.
#[derive(Debug, Clone, Serialize)]
pub struct Kind {
    /// Stable name, used in manifests, checks and reports.
    pub name: &'static str,
    pub plane: Plane,
    /// What the collector sends: GET; POST only for the opt-in SIEM searches and the batched
    /// metrics read (both documented reads, [`READ_POSTS`]); `READ` for the
    /// AMQP management node's read operation; `-` for files and derived kinds.
    pub method: &'static str,
    /// URL path template below the plane's base URL. `{sub}`, `{rg}`, `{ns}`, `{hub}`,
    /// `{acct}`, `{sp}`, `{tenant}`, `{content_type}`, `{start}`, `{end}` are filled by the collector.
    pub url: &'static str,
    /// The `api-version` query parameter, where the plane uses one.
    pub api_version: Option<&'static str>,
    /// Token audience (resource) the request needs, as a plane-relative name.
    pub audience: Option<&'static str>,
    /// The least permission that reads it (Graph application permission, Azure RBAC role, or API role).
    pub permission: &'static str,
    /// How the endpoint pages.
    pub paging: Paging,
    /// Row of the endpoint table in `reference/microsoft-apis.md`.
    pub reference: &'static str,
    /// What the kind proves, for `siemproof permissions` and the report.
    pub purpose: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Paging {
    None,
    /// ARM `nextLink` in the body.
    NextLink,
    /// Graph `@odata.nextLink` in the body.
    ODataNextLink,
    /// Management Activity API `NextPageUri` response header.
    NextPageUriHeader,
    /// QRadar: `Range: items=a-b` request header, `Content-Range: items a-b/total` in the reply.
    RangeHeader,
    /// Splunk REST: `count`/`offset` query parameters, `paging{total,perPage,offset}` in the body.
    SplunkOffset,
    /// Kibana Fleet: `page`/`perPage` query parameters, `{items,total,page,perPage}` in the body.
    PageNumber,
    /// Blob service: `<NextMarker>` in the XML body, passed back as `marker`; empty when done.
    NextMarker,
}

impl Paging {
    /// The next page a response names by link (`nextLink`, `@odata.nextLink`, `NextPageUri`),
    /// if any. `header` looks a response header up by name. Range paging names no link.
    pub fn next_link(
        self,
        body: &serde_json::Value,
        header: impl Fn(&str) -> Option<String>,
    ) -> Option<String> {
        let link = match self {
            // The Blob service's marker is in its XML body (`collect::paging::next_marker`).
            Paging::None
            | Paging::RangeHeader
            | Paging::SplunkOffset
            | Paging::PageNumber
            | Paging::NextMarker => None,
            Paging::NextLink => crate::normalize::raw::s(body, &["nextLink"]),
            Paging::ODataNextLink => crate::normalize::raw::s(body, &["@odata.nextLink"]),
            Paging::NextPageUriHeader => header("NextPageUri"),
        }?;
        let link = link.trim().to_string();
        (!link.is_empty()).then_some(link)
    }
}

const EH: &str = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.EventHub/namespaces";

/// Every evidence kind siemproof knows, in the order the collector fetches them.
pub static KINDS: &[Kind] = &[
    Kind {
        name: "arm.aadiam.diagnostic_settings",
        plane: Plane::Arm,
        method: "GET",
        url: "/providers/microsoft.aadiam/diagnosticSettings",
        api_version: Some("2017-04-01"),
        audience: Some("arm"),
        permission: "Azure RBAC role with microsoft.aadiam/diagnosticSettings/read at scope /providers/Microsoft.aadiam (e.g. Reader assigned there)",
        paging: Paging::None,
        reference: "1a",
        purpose: "Entra ID diagnostic settings: which log categories stream to which Event Hub",
    },
    Kind {
        name: "arm.aadiam.diagnostic_categories",
        plane: Plane::Arm,
        method: "GET",
        url: "/providers/microsoft.aadiam/diagnosticSettingsCategories",
        api_version: Some("2017-04-01-preview"),
        audience: Some("arm"),
        permission: "same as arm.aadiam.diagnostic_settings",
        paging: Paging::None,
        reference: "1c",
        purpose: "The Entra log categories this tenant offers",
    },
    Kind {
        name: "arm.eventhub.namespaces",
        plane: Plane::Arm,
        method: "GET",
        url: EH,
        api_version: Some("2024-01-01"),
        audience: Some("arm"),
        permission: "Reader on the Event Hub resource group",
        paging: Paging::NextLink,
        reference: "2a",
        purpose: "Event Hub namespaces: status, region, TLS, network access, SKU and auto-inflate",
    },
    Kind {
        name: "arm.eventhub.eventhubs",
        plane: Plane::Arm,
        method: "GET",
        url: "{ns_id}/eventhubs",
        api_version: Some("2024-01-01"),
        audience: Some("arm"),
        permission: "Reader on the Event Hub resource group",
        paging: Paging::NextLink,
        reference: "2c",
        purpose: "Event hubs in a namespace: status, partitions, retention",
    },
    Kind {
        name: "arm.eventhub.namespace_rules",
        plane: Plane::Arm,
        method: "GET",
        url: "{ns_id}/authorizationRules",
        api_version: Some("2024-01-01"),
        audience: Some("arm"),
        permission: "Reader on the Event Hub resource group (rights only; keys need listKeys, never called)",
        paging: Paging::NextLink,
        reference: "2e",
        purpose: "Namespace shared access policies and their rights",
    },
    Kind {
        name: "arm.eventhub.hub_rules",
        plane: Plane::Arm,
        method: "GET",
        url: "{hub_id}/authorizationRules",
        api_version: Some("2024-01-01"),
        audience: Some("arm"),
        permission: "Reader on the Event Hub resource group",
        paging: Paging::NextLink,
        reference: "2f",
        purpose: "Event-hub-scoped shared access policies and their rights",
    },
    Kind {
        name: "arm.eventhub.consumer_groups",
        plane: Plane::Arm,
        method: "GET",
        url: "{hub_id}/consumergroups",
        api_version: Some("2024-01-01"),
        audience: Some("arm"),
        permission: "Reader on the Event Hub resource group",
        paging: Paging::NextLink,
        reference: "2g",
        purpose: "Consumer groups of an event hub",
    },
    Kind {
        name: "arm.eventhub.network_rule_sets",
        plane: Plane::Arm,
        method: "GET",
        url: "{ns_id}/networkRuleSets/default",
        api_version: Some("2024-01-01"),
        audience: Some("arm"),
        permission: "Reader on the Event Hub resource group",
        paging: Paging::None,
        reference: "2h",
        purpose: "Namespace firewall: default action, IP rules, virtual networks",
    },
    Kind {
        name: "arm.eventhub.metrics",
        plane: Plane::Arm,
        method: "GET",
        // `top` (default 10) caps the hub series a dimension split returns; 1000 is the most
        // hubs a namespace can hold, so the configured hub's series is never cut off.
        url: "{ns_id}/providers/Microsoft.Insights/metrics?metricnames=IncomingMessages,OutgoingMessages,ThrottledRequests,IncomingBytes&aggregation=Total&interval=PT1H&timespan={start}/{end}&$filter=EntityName eq '*'&top=1000",
        api_version: Some("2023-10-01"),
        audience: Some("arm"),
        permission: "Monitoring Reader (or Reader) on the namespace",
        paging: Paging::None,
        reference: "4",
        purpose: "Messages in and out of each hub and throttled requests over the metrics window",
    },
    Kind {
        name: "metrics.eventhub.batch",
        plane: Plane::Metrics,
        method: "POST",
        // The same metrics as `arm.eventhub.metrics` for up to 50 namespaces of one
        // subscription and region in one call (Microsoft's remedy for metrics reads throttling
        // a subscription). The body is `{"resourceids":[...]}`; `filter` takes no `$` here.
        url: "/subscriptions/{sub}/metrics:getBatch?metricnamespace=microsoft.eventhub/namespaces&metricnames=IncomingMessages,OutgoingMessages,ThrottledRequests,IncomingBytes&aggregation=total&interval=PT1H&starttime={start}&endtime={end}&filter=EntityName eq '*'&top=1000",
        api_version: Some("2023-10-01"),
        audience: Some("metrics"),
        permission: "Monitoring Reader on the subscription (resource-level is not enough for the batch API; without it siemproof reads each namespace's metrics through ARM instead)",
        paging: Paging::None,
        reference: "consumer-health 6.2",
        purpose: "The namespaces' hub metrics in batches of 50 (metrics:getBatch), in place of one ARM read per namespace",
    },
    Kind {
        name: "arm.storage.accounts",
        plane: Plane::Arm,
        method: "GET",
        url: "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts",
        api_version: Some("2024-01-01"),
        audience: Some("arm"),
        permission: "Reader on the storage resource group",
        paging: Paging::NextLink,
        reference: "3a",
        purpose: "Checkpoint storage account: HTTPS only, TLS, public blob access, shared key, firewall",
    },
    Kind {
        name: "arm.storage.containers",
        plane: Plane::Arm,
        method: "GET",
        url: "{acct_id}/blobServices/default/containers",
        api_version: Some("2023-05-01"),
        audience: Some("arm"),
        permission: "Reader on the storage account",
        paging: Paging::NextLink,
        reference: "3c",
        purpose: "Blob containers of the checkpoint account and their public access level",
    },
    Kind {
        name: "graph.organization",
        plane: Plane::Graph,
        method: "GET",
        url: "/organization?$select=id,displayName,verifiedDomains",
        api_version: None,
        audience: Some("graph"),
        permission: "Organization.Read.All (application)",
        paging: Paging::None,
        reference: "5a",
        purpose: "The tenant's identity",
    },
    Kind {
        name: "graph.subscribed_skus",
        plane: Plane::Graph,
        method: "GET",
        url: "/subscribedSkus?$select=skuId,skuPartNumber,capabilityStatus,prepaidUnits,consumedUnits,servicePlans",
        api_version: None,
        audience: Some("graph"),
        permission: "Organization.Read.All (application)",
        paging: Paging::None,
        reference: "5b",
        purpose: "Licences and service plans that the required telemetry depends on",
    },
    Kind {
        name: "graph.applications",
        plane: Plane::Graph,
        method: "GET",
        url: "/applications?$filter=appId eq '{app_id}'&$select=id,appId,displayName,signInAudience,passwordCredentials,keyCredentials,requiredResourceAccess",
        api_version: None,
        audience: Some("graph"),
        permission: "Application.Read.All (application)",
        paging: Paging::ODataNextLink,
        reference: "5c",
        purpose: "The SIEM's app registrations: audience, credentials and their expiry, requested permissions",
    },
    Kind {
        name: "graph.service_principals",
        plane: Plane::Graph,
        method: "GET",
        url: "/servicePrincipals?$filter=appId eq '{app_id}'&$select=id,appId,displayName,appRoles,accountEnabled,servicePrincipalType",
        api_version: None,
        audience: Some("graph"),
        permission: "Application.Read.All (application)",
        paging: Paging::ODataNextLink,
        reference: "5d",
        purpose: "Service principals of the SIEM apps and of the resource APIs (their appRoles name the permissions)",
    },
    Kind {
        name: "graph.app_role_assignments",
        plane: Plane::Graph,
        method: "GET",
        url: "/servicePrincipals/{sp}/appRoleAssignments",
        api_version: None,
        audience: Some("graph"),
        permission: "Application.Read.All (application)",
        paging: Paging::ODataNextLink,
        reference: "5e",
        purpose: "Application permissions granted (admin-consented) to a SIEM app",
    },
    Kind {
        name: "graph.oauth2_permission_grants",
        plane: Plane::Graph,
        method: "GET",
        url: "/oauth2PermissionGrants?$filter=clientId eq '{sp}'",
        api_version: None,
        audience: Some("graph"),
        permission: "Directory.Read.All (application)",
        paging: Paging::ODataNextLink,
        reference: "5f",
        purpose: "Delegated permissions granted to a SIEM app (which an unattended collector cannot use)",
    },
    Kind {
        name: "graph.directory_audits",
        plane: Plane::Graph,
        method: "GET",
        url: "/auditLogs/directoryAudits?$top=1&$select=id,activityDateTime,category,activityDisplayName",
        api_version: None,
        audience: Some("graph"),
        permission: "AuditLog.Read.All (application); Entra ID P1/P2",
        paging: Paging::None,
        reference: "5g",
        purpose: "Graph audit log API is readable and has recent entries",
    },
    Kind {
        name: "graph.sign_ins",
        plane: Plane::Graph,
        method: "GET",
        url: "/auditLogs/signIns?$top=1&$select=id,createdDateTime,appDisplayName",
        api_version: None,
        audience: Some("graph"),
        permission: "AuditLog.Read.All (application); Entra ID P1/P2",
        paging: Paging::None,
        reference: "5h",
        purpose: "Graph sign-in log API is readable and has recent entries",
    },
    Kind {
        name: "o365.subscriptions",
        plane: Plane::O365,
        method: "GET",
        url: "/api/v1.0/{tenant}/activity/feed/subscriptions/list?PublisherIdentifier={tenant}",
        api_version: None,
        audience: Some("o365"),
        permission: "ActivityFeed.Read (Office 365 Management APIs, application)",
        paging: Paging::None,
        reference: "6b",
        purpose: "Management Activity API subscriptions per content type",
    },
    Kind {
        name: "o365.content",
        plane: Plane::O365,
        method: "GET",
        url: "/api/v1.0/{tenant}/activity/feed/subscriptions/content?contentType={content_type}&startTime={start}&endTime={end}&PublisherIdentifier={tenant}",
        api_version: None,
        audience: Some("o365"),
        permission: "ActivityFeed.Read (ActivityFeed.ReadDlp for DLP.All)",
        paging: Paging::NextPageUriHeader,
        reference: "6c",
        purpose: "Content blobs available per content type: proof that audit data flows",
    },
    // The SIEM's checkpoint store (consumer-health.md §4): the Blob service's List Blobs, GET,
    // with an Entra token for storage. Never the account keys, never a blob write or a lease.
    Kind {
        name: "blob.checkpoints",
        plane: Plane::Blob,
        method: "GET",
        url: "/{container}?restype=container&comp=list&include=metadata&maxresults=5000",
        api_version: None,
        audience: Some("storage"),
        permission: "Storage Blob Data Reader (Entra ID) on the checkpoint container or its account; never the account keys",
        paging: Paging::NextMarker,
        reference: "consumer-health.md §4.1 (List Blobs, x-ms-version 2021-08-06)",
        purpose: "The SIEM's checkpoint and ownership blobs, with metadata and last-modified times: is the SIEM reading every partition, and does anyone else read its consumer group",
    },
    // The hub's per-partition runtime state (consumer-health.md §5.2): the AMQP `$management`
    // READ of `com.microsoft:eventhub` and `com.microsoft:partition`, authorised through `$cbs`
    // with an Entra token for Event Hubs. No receiver link, no epoch, no checkpoint (§5.4).
    Kind {
        name: "amqp.partitions",
        plane: Plane::Amqp,
        method: "READ",
        url: "amqps://{ns}.{eventhub_suffix}/$management (READ com.microsoft:eventhub {hub}, then com.microsoft:partition for each partition)",
        api_version: None,
        audience: Some("eventhubs"),
        permission: "Azure Event Hubs Data Receiver (Listen) on the event hub or its namespace, not on a consumer group; no receiver is ever opened",
        paging: Paging::None,
        reference: "consumer-health.md §5.2, §5.4",
        purpose: "Each partition's first and last enqueued sequence number and last enqueued time: the SIEM's lag, and events lost unread past retention",
    },
    // Event Processor Host leases (QRadar's Java ingress, .NET EPH, Elastic v1) keep their
    // checkpoint in the blob's JSON body, not in metadata (consumer-health.md §2): Get Blob, GET,
    // same role. It neither breaks nor changes the lease. The lease's `token` is dropped.
    Kind {
        name: "blob.leases",
        plane: Plane::Blob,
        method: "GET",
        url: "/{container}/{blob}",
        api_version: None,
        audience: Some("storage"),
        permission: "Storage Blob Data Reader (Entra ID) on the checkpoint container or its account; never the account keys",
        paging: Paging::None,
        reference: "consumer-health.md §2.1, §2.3 (Get Blob of an EPH lease)",
        purpose: "Each Event Processor Host lease blob's JSON (about 150 bytes): the sequence number it checkpointed, for the SIEM's lag",
    },
    // QRadar (siem-apis.md §1). Every request carries the authorised-service token in `SEC`
    // and the API `Version`; never the `x-qrd-encryption-*` headers, so no secret is returned.
    Kind {
        name: "siem.qradar.protocol_types",
        plane: Plane::Siem,
        method: "GET",
        url: "/api/config/event_sources/log_source_management/protocol_types?fields=id,name,version,latest_version&filter={protocol_filter}",
        api_version: None,
        audience: None,
        permission: "QRadar authorised-service token; user role with Log Activity, security profile covering the Microsoft log sources (siem.md)",
        paging: Paging::RangeHeader,
        reference: "siem-apis.md §1.3 [Q2]",
        purpose: "The Microsoft protocols (Azure Event Hubs, Office 365 REST API, Graph Security API) resolved by name: ids differ per install",
    },
    Kind {
        name: "siem.qradar.log_source_types",
        plane: Plane::Siem,
        method: "GET",
        url: "/api/config/event_sources/log_source_types?fields=id,name,version,latest_version&filter={type_filter}",
        api_version: None,
        audience: None,
        permission: "same as siem.qradar.protocol_types",
        paging: Paging::RangeHeader,
        reference: "siem-apis.md §1.3 [Q3]",
        purpose: "The Microsoft DSMs (Azure Active Directory, Azure Platform, Office 365, 365 Defender) by name, with their installed versions",
    },
    Kind {
        name: "siem.qradar.log_sources",
        plane: Plane::Siem,
        method: "GET",
        url: "/api/config/event_sources/log_source_management/log_sources?fields=id,name,type_id,protocol_type_id,enabled,gateway,requires_deploy,status,last_event_time,average_eps,target_event_collector_id,protocol_parameters&filter={source_filter}",
        api_version: None,
        audience: None,
        permission: "same as siem.qradar.protocol_types",
        paging: Paging::RangeHeader,
        reference: "siem-apis.md §1.2 [Q1]",
        purpose: "The Microsoft log sources: enabled, status (NA = never ran), last event time, and their Event Hub / tenant / client binding",
    },
    Kind {
        name: "siem.qradar.event_collectors",
        plane: Plane::Siem,
        method: "GET",
        url: "/api/config/event_sources/event_collectors?fields=id,name,host_id,component_name",
        api_version: None,
        audience: None,
        permission: "same as siem.qradar.protocol_types",
        paging: Paging::RangeHeader,
        reference: "siem-apis.md §1.2 [Q1]",
        purpose: "The event collectors the Microsoft log sources run on",
    },
    Kind {
        name: "siem.qradar.ariel_search",
        plane: Plane::Siem,
        method: "POST",
        url: "/api/ariel/searches?query_expression={aql}",
        api_version: None,
        audience: None,
        permission: "user role with Log Activity and a security profile covering the Microsoft log sources (opt-in: event_counts = true)",
        paging: Paging::None,
        reference: "siem-apis.md §1.5 [Q5][Q20]",
        purpose: "Opt-in Ariel search: events and unparsed events per Microsoft log source over the freshness window (a stored search, no configuration change)",
    },
    Kind {
        name: "siem.qradar.ariel_results",
        plane: Plane::Siem,
        method: "GET",
        url: "/api/ariel/searches/{search_id}/results",
        api_version: None,
        audience: None,
        permission: "same as siem.qradar.ariel_search",
        paging: Paging::None,
        reference: "siem-apis.md §1.5 [Q5]",
        purpose: "The Ariel search's rows (polled through GET /api/ariel/searches/{search_id} until COMPLETED)",
    },
    // Splunk (siem-apis.md §2). `Authorization: Bearer <token>`, `output_mode=json`, and
    // `count=0` (all entries); `paging.total` in the body shows the listing is whole.
    Kind {
        name: "siem.splunk.apps",
        plane: Plane::Siem,
        method: "GET",
        url: "/services/apps/local?output_mode=json&count=0",
        api_version: None,
        audience: None,
        permission: "Splunk token of a role with list_inputs and search only, srchIndexesAllowed limited to the Microsoft indexes (siem.md); apps/local is readable by every role",
        paging: Paging::SplunkOffset,
        reference: "siem-apis.md §2.1 [S11]",
        purpose: "Installed add-ons (Splunk_TA_microsoft-cloudservices, splunk_ta_o365) and their versions",
    },
    Kind {
        name: "siem.splunk.eventhub_inputs",
        plane: Plane::Siem,
        method: "GET",
        url: "/servicesNS/-/-/data/inputs/mscs_azure_event_hub?output_mode=json&count=0",
        api_version: None,
        audience: None,
        permission: "same as siem.splunk.apps (list_inputs)",
        paging: Paging::SplunkOffset,
        reference: "siem-apis.md §2.2 [S1][S11]",
        purpose: "Microsoft Cloud Services Event Hub inputs: namespace, hub, consumer group, account, disabled",
    },
    Kind {
        name: "siem.splunk.azure_accounts",
        plane: Plane::Siem,
        method: "GET",
        // The plain conf endpoint, not the add-on's UCC handler: listing through the handler
        // moves a clear-text secret into the credential store and writes the conf (a write).
        url: "/servicesNS/nobody/Splunk_TA_microsoft-cloudservices/configs/conf-mscs_azure_accounts?output_mode=json&count=0",
        api_version: None,
        audience: None,
        permission: "same as siem.splunk.apps (read access to the add-on's app)",
        paging: Paging::SplunkOffset,
        reference: "siem-apis.md §2.2 [S3]; UCC handler side effect: splunktaucclib rest_handler/handler.py (_encrypt_raw_credentials on list)",
        purpose: "The Azure accounts the Event Hub inputs use: tenant and client id (secrets removed)",
    },
    Kind {
        name: "siem.splunk.o365_inputs",
        plane: Plane::Siem,
        method: "GET",
        url: "/servicesNS/-/-/data/inputs/splunk_ta_o365_management_activity?output_mode=json&count=0",
        api_version: None,
        audience: None,
        permission: "same as siem.splunk.apps (list_inputs)",
        paging: Paging::SplunkOffset,
        reference: "siem-apis.md §2.3 [S6][S11]",
        purpose: "Office 365 add-on Management Activity inputs: one content type each, tenant, disabled",
    },
    Kind {
        name: "siem.splunk.o365_tenants",
        plane: Plane::Siem,
        method: "GET",
        url: "/servicesNS/nobody/splunk_ta_o365/configs/conf-splunk_ta_o365_tenants?output_mode=json&count=0",
        api_version: None,
        audience: None,
        permission: "same as siem.splunk.apps (read access to the add-on's app)",
        paging: Paging::SplunkOffset,
        reference: "siem-apis.md §2.3 [S7]; plain conf endpoint, as for siem.splunk.azure_accounts",
        purpose: "The Office 365 tenants the inputs use: tenant and client id (secrets removed)",
    },
    Kind {
        name: "siem.splunk.search",
        plane: Plane::Siem,
        method: "POST",
        url: "/services/search/v2/jobs/export",
        api_version: None,
        audience: None,
        permission: "search capability, srchIndexesAllowed covering the Microsoft indexes and _internal (opt-in: event_counts = true)",
        paging: Paging::None,
        reference: "siem-apis.md §2.1, §2.5 [S4][S11]",
        purpose: "Opt-in tstats: newest event and count per index, sourcetype and source (the source names hub and consumer group); input errors in _internal",
    },
    // Elastic (siem-apis.md §3). `Authorization: ApiKey <key>`; Fleet on Kibana (optionally
    // below `/s/{space}`), data stream stats on Elasticsearch.
    Kind {
        name: "siem.elastic.package_policies",
        plane: Plane::Siem,
        method: "GET",
        url: "/api/fleet/package_policies?kuery={kuery}&perPage=100&page={page}",
        api_version: None,
        audience: None,
        permission: "Elastic API key with Kibana Fleet: read and Integrations: read (siem.md)",
        paging: Paging::PageNumber,
        reference: "siem-apis.md §3.1 [E7]",
        purpose: "Fleet package policies of the azure, o365 and m365_defender integrations: hub, consumer group, tenant, client, content types, enabled streams",
    },
    Kind {
        name: "siem.elastic.agent_status",
        plane: Plane::Siem,
        method: "GET",
        url: "/api/fleet/agent_status?policyId={policy}",
        api_version: None,
        audience: None,
        permission: "same as siem.elastic.package_policies",
        paging: Paging::None,
        reference: "siem-apis.md §3.1 [E9]",
        purpose: "Agents of each agent policy running a Microsoft integration: online, error, offline",
    },
    Kind {
        name: "siem.elastic.data_stream_stats",
        plane: Plane::Siem,
        method: "GET",
        url: "/_data_stream/logs-azure.*,logs-o365.*,logs-m365_defender.*/_stats",
        api_version: None,
        audience: None,
        permission: "monitor index privilege on logs-azure.*, logs-o365.*, logs-m365_defender.*",
        paging: Paging::None,
        reference: "siem-apis.md §3.4 [E10][E11]",
        purpose: "Newest event (maximum_timestamp) per Microsoft data stream",
    },
    // Derived: the inputs of every configured SIEM target together, as the SIEM checks read
    // them. Its state is the worst state of the kinds each target's inputs are read from.
    Kind {
        name: "siem.inputs",
        plane: Plane::Siem,
        method: "-",
        url: "(derived from each [[siem]] target's listings)",
        api_version: None,
        audience: None,
        permission: "the credential of each [[siem]] target (see its kinds)",
        paging: Paging::None,
        reference: "siem-apis.md §0",
        purpose: "Every SIEM's Microsoft inputs in one shape: complete only when every target's inputs were read completely",
    },
    Kind {
        name: "probe.network",
        plane: Plane::Probe,
        method: "-",
        url: "probes/network.json",
        api_version: None,
        audience: None,
        permission: "run `siemproof probe` on the SIEM collector host",
        paging: Paging::None,
        reference: "seed-guide §4, Required Network Access",
        purpose: "Reachability of Event Hub (5671), blob (443), login, manage.office.com and Graph from the collector host",
    },
    Kind {
        name: "attestation",
        plane: Plane::Local,
        method: "-",
        url: "attestations/*.toml",
        api_version: None,
        audience: None,
        permission: "a person who can see the setting signs the statement",
        paging: Paging::None,
        reference: "microsoft-apis.md §6",
        purpose: "Statements for what no API can read (Defender streaming, MDCA export, MDI sensors)",
    },
    Kind {
        name: "config",
        plane: Plane::Local,
        method: "-",
        url: "siemproof.toml",
        api_version: None,
        audience: None,
        permission: "-",
        paging: Paging::None,
        reference: "DESIGN.md, Configuration",
        purpose: "What the deployment is supposed to be, as collected with the bundle",
    },
];

/// Whether a 404 from this kind's endpoint means "the thing is absent". True for lists below an
/// ARM resource group or resource (the group or parent does not exist); false for the
/// tenant-scoped Entra diagnostic settings, Graph lists and the Management Activity API (whose
/// absence is AF20022/AF20023, handled apart), which answer an empty list instead.
pub fn absent_on_404(name: &str) -> bool {
    name.starts_with("arm.") && !name.starts_with("arm.aadiam.")
}

/// The kinds sent as POST: opt-in SIEM searches (`event_counts = true`) that create a
/// server-side search job and change no configuration. The SIEM client admits a POST to exactly
/// these paths and no other.
pub const SEARCH_POSTS: &[&str] = &["siem.qradar.ariel_search", "siem.splunk.search"];

/// Every kind sent as POST, each a documented read: the opt-in SIEM searches and Azure
/// Monitor's batched metrics read (`metrics:getBatch`, which Microsoft documents as a read of
/// up to 50 resources' metrics; the guard admits only its exact shape, see
/// `collect::http::metrics_batch_post`).
pub const READ_POSTS: &[&str] = &[
    "siem.qradar.ariel_search",
    "siem.splunk.search",
    "metrics.eventhub.batch",
];

/// The key of the list in a kind's body: `value` (ARM, Graph), `entry` (Splunk listings),
/// `results` (Splunk searches), `items` (Fleet), `data_streams` (data stream stats), `events`
/// (Ariel results, a getBatch's per-resource answers); QRadar listings are a bare array; one object (`-`) for the Ariel search
/// status, the Fleet agent summary and the hub's partition reads.
pub fn list_key(name: &str) -> &'static str {
    if name == "siem.splunk.search" {
        "results"
    } else if name == "siem.qradar.ariel_results" {
        "events"
    } else if name == "siem.qradar.ariel_search"
        || name == "siem.elastic.agent_status"
        || name == "amqp.partitions"
        || name == "blob.leases"
    {
        // One object, not a list: taken as the listing's single element.
        "-"
    } else if name.starts_with("siem.splunk.") {
        "entry"
    } else if name == "siem.elastic.package_policies" {
        "items"
    } else if name == "siem.elastic.data_stream_stats" {
        "data_streams"
    } else if name == "metrics.eventhub.batch" {
        "values"
    } else {
        "value"
    }
}

/// Looks a kind up by its stable name.
pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_reads_only() {
        let mut names: Vec<_> = KINDS.iter().map(|k| k.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate kind names");
        for k in KINDS {
            // The only POSTs are the opt-in SIEM searches and the batched metrics read, each
            // a documented read.
            assert!(
                k.method == "GET"
                    || k.method == "-"
                    || (k.method == "POST" && READ_POSTS.contains(&k.name))
                    || (k.method == "READ" && k.plane == Plane::Amqp),
                "{} is not a read",
                k.name
            );
            assert!(
                !k.url.to_ascii_lowercase().contains("listkeys"),
                "{}",
                k.name
            );
            assert!(!k.url.contains("subscriptions/start"), "{}", k.name);
        }
    }
}
