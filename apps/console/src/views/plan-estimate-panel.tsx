import { useEffect, useState } from 'react';
import type { CreateTask } from '@fleetcast/contracts';
import type { ApiClient } from '../api/api-client';
import { estimatePlan, type PlanResult } from '../api/plan-estimate';
import { formatBytes, formatDuration } from '../lib/format';

/** Waits this long after the last change of the form before asking for an estimate. */
const DEBOUNCE_MS = 600;

/**
 * The what-if estimate of a task being created: WAN bytes and time with and without the LAN.
 * Shown only when the gateway answers `POST /v1/plans`; a gateway without the planner shows nothing.
 */
export function PlanEstimatePanel({ api, task }: { api: ApiClient; task: CreateTask | null }) {
  const [result, setResult] = useState<PlanResult | null>(null);
  const key = task ? JSON.stringify(task) : '';
  useEffect(() => {
    if (!task) {
      setResult(null);
      return;
    }
    let current = true;
    const timer = setTimeout(() => {
      void estimatePlan(api, task).then((r) => current && setResult(r));
    }, DEBOUNCE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
    // The task's content, not its identity, decides when to ask again.
  }, [key]);
  if (!result || result.kind === 'unavailable') return null;
  if (result.kind === 'error') {
    return (
      <section aria-labelledby="estimate-heading" className="panel">
        <h2 id="estimate-heading">Estimate</h2>
        <p className="muted">No estimate: {result.message}</p>
      </section>
    );
  }
  const f = result.figures;
  return (
    <section aria-labelledby="estimate-heading" className="panel" aria-live="polite">
      <h2 id="estimate-heading">Estimate before you start</h2>
      <table className="compact">
        <thead>
          <tr>
            <th scope="col" />
            <th scope="col">WAN bytes</th>
            <th scope="col">Time to complete</th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <th scope="row">With multicast and peers</th>
            <td>{formatBytes(f.withSharing.wanBytes)}</td>
            <td>{formatDuration(f.withSharing.seconds)}</td>
          </tr>
          <tr>
            <th scope="row">Every device from the origin</th>
            <td>{formatBytes(f.withoutSharing.wanBytes)}</td>
            <td>{formatDuration(f.withoutSharing.seconds)}</td>
          </tr>
        </tbody>
      </table>
      <p>
        Saves <strong>{formatBytes(f.savedWanBytes)}</strong> of WAN traffic for {f.devices} device{f.devices === 1 ? '' : 's'}.
      </p>
      {f.subnets.some((s) => s.noSharing) ? (
        <ul>
          {f.subnets
            .filter((s) => s.noSharing)
            .map((s) => (
              <li key={s.subnet ?? 'none'}>
                {s.subnet ?? 'no subnet'}: {s.noSharing}
              </li>
            ))}
        </ul>
      ) : null}
    </section>
  );
}
