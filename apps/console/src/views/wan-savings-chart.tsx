import { formatBytes } from '../lib/format';
import { layoutSavingsChart, type SubnetSavings } from '../lib/wan-savings';

const WIDTH = 640;
const LEFT = 150;
/** Room right of the longest bar for its figure. */
const RIGHT = 110;
const BAR = 22;
const GAP = 10;
/** More subnets than this would not fit a laptop screen beside the rest of the overview. */
const MAX_BARS = 12;

/**
 * WAN bytes saved per subnet as horizontal stacked bars (saved on the LAN, then over the WAN),
 * drawn in SVG; the same figures follow in a table for screen readers and for copying.
 */
export function WanSavingsChart({ rows }: { rows: SubnetSavings[] }) {
  if (rows.length === 0) return <p className="muted">No task has delivered bytes yet.</p>;
  const layout = layoutSavingsChart(rows, { width: WIDTH - RIGHT, left: LEFT, barHeight: BAR, gap: GAP, maxBars: MAX_BARS });
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${layout.height + 24}`} role="img" aria-labelledby="wan-chart-caption" width="100%">
        {layout.bars.map((bar) => (
          <g key={bar.label} transform={`translate(0 ${bar.y})`}>
            <text x={LEFT - 8} y={BAR / 2} dominantBaseline="middle" textAnchor="end" className="chart-label">
              {bar.label}
            </text>
            <rect x={LEFT} width={Math.max(bar.savedWidth, 0)} height={BAR} className="bar-saved" />
            <rect x={LEFT + bar.savedWidth} width={Math.max(bar.wanWidth, 0)} height={BAR} className="bar-wan" />
            <text x={LEFT + bar.savedWidth + bar.wanWidth + 6} y={BAR / 2} dominantBaseline="middle" className="chart-value">
              {formatBytes(bar.row.savedBytes)} saved
            </text>
          </g>
        ))}
        <g transform={`translate(${LEFT} ${layout.height + 8})`} className="chart-legend">
          <rect width="12" height="12" className="bar-saved" />
          <text x="18" y="10">
            saved (LAN multicast and peers)
          </text>
          <rect x="230" width="12" height="12" className="bar-wan" />
          <text x="248" y="10">
            over the WAN (origin)
          </text>
        </g>
      </svg>
      <figcaption id="wan-chart-caption">WAN bytes saved per subnet, over the tasks listed (largest first{rows.length > MAX_BARS ? `, ${MAX_BARS} of ${rows.length} subnets` : ''}).</figcaption>
      <table className="compact">
        <caption className="visually-hidden">WAN bytes saved per subnet</caption>
        <thead>
          <tr>
            <th scope="col">Subnet</th>
            <th scope="col">Saved</th>
            <th scope="col">Over the WAN</th>
            <th scope="col">Share saved</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.subnet}>
              <th scope="row">{r.subnet}</th>
              <td>{formatBytes(r.savedBytes)}</td>
              <td>{formatBytes(r.wanBytes)}</td>
              <td>{r.savedPercent} %</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
