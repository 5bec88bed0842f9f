/**
 * Cluster DNS as a hosts file: pure builders that turn the pods and Services
 * the agent knows into `/etc/hosts` lines, the way CoreDNS answers in a real
 * cluster (search path `<ns>.svc.<domain> svc.<domain> <domain>`), except that
 * a Service name resolves to its backing pods' IPs instead of a ClusterIP
 * (nothing routes ClusterIPs here; so a client must use port == targetPort).
 */

/** What DNS needs to know about a pod. */
export interface DnsPod {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  readonly labels: Readonly<Record<string, string>>;
  /** spec.hostname (defaults to the pod name for the pod's own entry). */
  readonly hostname?: string;
  readonly subdomain?: string;
  /** The pod's Ready condition. */
  readonly ready: boolean;
}

/** What DNS needs to know about a Service. */
export interface DnsService {
  readonly namespace: string;
  readonly name: string;
  /** Selector; Services without one get no records (their endpoints are managed by hand). */
  readonly selector?: Readonly<Record<string, string>>;
  readonly publishNotReadyAddresses: boolean;
}

/** One DNS name relative to its namespace (`svc` or `host.sub`) and the IP it resolves to. */
export interface DnsRecord {
  readonly namespace: string;
  readonly relativeName: string;
  readonly ip: string;
}

function matchesSelector(labels: Readonly<Record<string, string>>, selector: Readonly<Record<string, string>>): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/**
 * Computes the records of every Service: `<svc>` → IPs of the selected pods,
 * and `<hostname>.<svc>` for selected pods whose subdomain is the Service.
 * Pods count when ready, or always when the Service publishes not-ready
 * addresses (as the operator's headless Service does). Sorted for stable output.
 */
export function buildDnsRecords(pods: readonly DnsPod[], services: readonly DnsService[]): DnsRecord[] {
  const out: DnsRecord[] = [];
  for (const svc of services) {
    if (svc.selector === undefined) continue;
    for (const pod of pods) {
      if (pod.namespace !== svc.namespace || pod.ip === '' || !matchesSelector(pod.labels, svc.selector)) continue;
      if (!pod.ready && !svc.publishNotReadyAddresses) continue;
      out.push({ namespace: svc.namespace, relativeName: svc.name, ip: pod.ip });
      if (pod.hostname !== undefined && pod.subdomain === svc.name) {
        out.push({ namespace: svc.namespace, relativeName: `${pod.hostname}.${svc.name}`, ip: pod.ip });
      }
    }
  }
  return out.sort((a, b) => `${a.namespace}/${a.relativeName}/${a.ip}`.localeCompare(`${b.namespace}/${b.relativeName}/${b.ip}`));
}

/** The names under which `record` resolves for a reader in `readerNamespace`. */
export function namesFor(record: DnsRecord, readerNamespace: string, clusterDomain: string): string[] {
  const base = `${record.relativeName}.${record.namespace}`;
  const names = [`${base}.svc.${clusterDomain}`, `${base}.svc`, base];
  if (record.namespace === readerNamespace) names.push(record.relativeName);
  return names;
}

/**
 * The hosts file of one pod: the machine's base file (localhost etc.), the
 * pod's own name (as kubelet writes it), then the cluster records.
 */
export function buildHostsFile(
  base: string,
  self: { readonly namespace: string; readonly ip: string; readonly hostname: string; readonly subdomain?: string },
  records: readonly DnsRecord[],
  clusterDomain: string,
): string {
  const lines = [base.trimEnd(), '', '# dat-operator test node agent: this pod'];
  const selfNames = self.subdomain === undefined ? [self.hostname] : [`${self.hostname}.${self.subdomain}.${self.namespace}.svc.${clusterDomain}`, self.hostname];
  if (self.ip !== '') lines.push(`${self.ip}\t${selfNames.join(' ')}`);
  lines.push('# dat-operator test node agent: cluster DNS');
  for (const r of records) lines.push(`${r.ip}\t${namesFor(r, self.namespace, clusterDomain).join(' ')}`);
  return `${lines.join('\n')}\n`;
}
