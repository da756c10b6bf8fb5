import { formatBytes } from '../lib/format';
import type { DaySavings } from '../lib/wan-savings';

const WIDTH = 640;
const HEIGHT = 160;
const BOTTOM = 22;
const LEFT = 8;

/** WAN bytes saved per day as stacked columns (about seven day labels, the last day always one) (saved on the LAN below, over the WAN above); the figures follow in a table. */
export function SavingsOverTimeChart({ days }: { days: DaySavings[] }) {
  if (days.every((d) => d.savedBytes + d.wanBytes === 0)) return <p className="muted">No task delivered bytes in the last {days.length} days.</p>;
  const max = Math.max(1, ...days.map((d) => d.savedBytes + d.wanBytes));
  const slot = (WIDTH - LEFT) / days.length;
  const barWidth = Math.max(4, slot * 0.7);
  const plot = HEIGHT - BOTTOM;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-labelledby="time-chart-caption" width="100%">
        {days.map((d, i) => {
          const saved = (d.savedBytes / max) * plot;
          const wan = (d.wanBytes / max) * plot;
          const x = LEFT + i * slot + (slot - barWidth) / 2;
          return (
            <g key={d.day}>
              <rect x={x} y={plot - saved} width={barWidth} height={saved} className="bar-saved" />
              <rect x={x} y={plot - saved - wan} width={barWidth} height={wan} className="bar-wan" />
              {(days.length - 1 - i) % Math.ceil(days.length / 7) === 0 ? (
                <text x={x + barWidth / 2} y={HEIGHT - 6} textAnchor="middle" className="chart-label">
                  {d.day.slice(5)}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <figcaption id="time-chart-caption">
        WAN bytes saved (green) and sent over the WAN (orange) per day of the last {days.length} days, by the day tasks were created (UTC); the
        tallest day is {formatBytes(max)}.
      </figcaption>
      <details>
        <summary>Figures per day</summary>
        <table className="compact">
          <thead>
            <tr>
              <th scope="col">Day</th>
              <th scope="col">Saved</th>
              <th scope="col">Over the WAN</th>
            </tr>
          </thead>
          <tbody>
            {days
              .filter((d) => d.savedBytes + d.wanBytes > 0)
              .map((d) => (
                <tr key={d.day}>
                  <th scope="row">{d.day}</th>
                  <td>{formatBytes(d.savedBytes)}</td>
                  <td>{formatBytes(d.wanBytes)}</td>
                </tr>
              ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
