import type { Device, LicenseStatus, Subnet, Task, TopologyDocument } from '@fleetcast/contracts';
import { ApiError, type ApiClient } from '../api/api-client';
import { fleetOverview } from '../lib/fleet-overview';
import { formatTime } from '../lib/format';
import { savingsByDay, savingsBySubnet } from '../lib/wan-savings';
import { SavingsOverTimeChart } from './savings-over-time-chart';
import { ErrorNote, Loading, Stat } from './common';
import { useLoad } from './use-load';
import { WanSavingsChart } from './wan-savings-chart';

/** Devices read for the overview: the API's largest page. */
const DEVICE_PAGE = 1000;
/** The most recent tasks the savings charts add up. */
const TASK_PAGE = 100;
/** Days the savings-over-time chart spans. */
const CHART_DAYS = 14;

interface OverviewData {
  devices: { items: Device[]; total: number };
  subnets: Subnet[];
  subnetsTotal: number;
  license: LicenseStatus | null;
  offices: TopologyDocument['offices'] | null;
  tasks: Task[];
}

/** A part that is not there (no topology uploaded) reads as null; any other failure fails the page. */
async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

async function loadOverview(api: ApiClient): Promise<OverviewData> {
  const [devices, subnets, license, topology, tasks] = await Promise.all([
    api.get<{ items: Device[]; total: number }>(`/v1/devices?limit=${DEVICE_PAGE}`),
    // The largest page: the table shows up to 1,000 subnets, the count is the fleet's.
    api.get<{ items: Subnet[]; total?: number }>('/v1/subnets?limit=1000'),
    orNull(api.get<LicenseStatus>('/v1/license')),
    orNull(api.get<{ document: TopologyDocument }>('/v1/topology')),
    api.get<{ items: Task[] }>(`/v1/tasks?limit=${TASK_PAGE}`),
  ]);
  return { devices, subnets: subnets.items, subnetsTotal: subnets.total ?? subnets.items.length, license, offices: topology?.document.offices ?? null, tasks: tasks.items };
}

export function OverviewView({ api }: { api: ApiClient }) {
  const { data, error, loading, reload } = useLoad(() => loadOverview(api), 'overview');
  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>Fleet overview</h1>
        <button type="button" onClick={reload} disabled={loading}>
          Refresh
        </button>
      </div>
      <ErrorNote message={error} />
      {!data ? loading ? <Loading what="the fleet" /> : null : <OverviewBody data={data} />}
    </>
  );
}

function OverviewBody({ data }: { data: OverviewData }) {
  const fleet = fleetOverview(data.devices.items, data.subnets);
  const partial = data.devices.total > data.devices.items.length;
  const license = data.license;
  return (
    <>
      <section aria-labelledby="fleet-heading">
        <h2 id="fleet-heading">Fleet</h2>
        <dl className="stats">
          <Stat label="Devices" value={data.devices.total} detail={partial ? `figures below from the first ${data.devices.items.length}` : undefined} />
          <Stat label="Online" value={fleet.online} detail="scanned recently" />
          <Stat label="Stale" value={fleet.stale} detail="no scan for a while" />
          <Stat label="Subnets" value={data.subnetsTotal} />
          <Stat label="Offices" value={data.offices ? data.offices.length : '–'} detail={data.offices ? undefined : 'no topology uploaded'} />
          <Stat
            label="License seats"
            value={license && license.state !== 'none' ? `${license.used} / ${license.seats}` : '–'}
            detail={license ? (license.state === 'none' ? 'no license installed' : `${license.state}${license.expiresAt ? `, expires ${formatTime(license.expiresAt)}` : ''}${license.over > 0 ? `, ${license.over} over` : ''}`) : 'unknown'}
          />
        </dl>
      </section>
      <div className="columns">
        <section aria-labelledby="versions-heading">
          <h2 id="versions-heading">Agent versions</h2>
          {fleet.versions.length === 0 ? (
            <p className="muted">No device has reported yet.</p>
          ) : (
            <table className="compact">
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Devices</th>
                  <th scope="col">Unsupported</th>
                </tr>
              </thead>
              <tbody>
                {fleet.versions.map((v) => (
                  <tr key={v.version}>
                    <th scope="row">{v.version}</th>
                    <td>{v.devices}</td>
                    <td>{v.unsupported}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <section aria-labelledby="subnets-heading">
          <h2 id="subnets-heading">Subnets</h2>
          {data.subnets.length === 0 ? (
            <p className="muted">No subnet known yet.</p>
          ) : (
            <table className="compact">
              <thead>
                <tr>
                  <th scope="col">Subnet</th>
                  <th scope="col">Devices</th>
                  <th scope="col">Stale</th>
                </tr>
              </thead>
              <tbody>
                {data.subnets.map((s) => (
                  <tr key={s.cidr}>
                    <th scope="row">{s.cidr}</th>
                    <td>{s.deviceCount}</td>
                    <td>{s.staleCount}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        {data.offices ? (
          <section aria-labelledby="offices-heading">
            <h2 id="offices-heading">Offices</h2>
            <table className="compact">
              <thead>
                <tr>
                  <th scope="col">Office</th>
                  <th scope="col">Type</th>
                  <th scope="col">Subnets</th>
                  <th scope="col">WAN link</th>
                </tr>
              </thead>
              <tbody>
                {data.offices.map((o) => (
                  <tr key={o.id}>
                    <th scope="row">{o.name}</th>
                    <td>{o.type}</td>
                    <td>{o.subnets.length}</td>
                    <td>{o.wan ? `${(o.wan.bandwidthKbps / 1000).toLocaleString('en')} Mbit/s` : 'central'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        ) : null}
      </div>
      <div className="columns wide">
      <section aria-labelledby="savings-heading">
        <h2 id="savings-heading">WAN bytes saved per subnet</h2>
        <WanSavingsChart rows={savingsBySubnet(data.tasks.map((t) => t.summary))} />
      </section>
      <section aria-labelledby="savings-time-heading">
        <h2 id="savings-time-heading">WAN bytes saved over time</h2>
        <SavingsOverTimeChart days={savingsByDay(data.tasks, Date.now(), CHART_DAYS)} />
      </section>
      </div>
    </>
  );
}
