// Geometry of the per-plan trend chart (stacked bars), kept apart from the SVG so it can be tested.
import type { Metric, Plan, TrendPoint } from '$lib/bindings';

export type Segment = { plan: string; value: number; y: number; height: number };

export type Bar = {
  month: string;
  index: number;
  /** left edge of the bar */
  x: number;
  /** centre of the month's slot (labels, hover) */
  cx: number;
  width: number;
  /** stacked bottom-up in catalog order; zero values are left out */
  segments: Segment[];
  total: number;
  /** no account of the subtree reported that month: drawn as a gap, not a zero */
  gap: boolean;
  /** the gap is because nothing existed yet (not merely unreported) */
  nonExistent: boolean;
};

export type Tick = { value: number; y: number };

export type ChartGeometry = {
  bars: Bar[];
  ticks: Tick[];
  yMax: number;
  plot: { left: number; right: number; top: number; bottom: number };
  slot: number;
};

export type ChartLayout = {
  width: number;
  height: number;
  margin?: { top: number; right: number; bottom: number; left: number };
  /** fraction of the slot the bar takes */
  barRatio?: number;
};

/** A "nice" step (1, 2, 2.5, 5 × 10^n) so that about `target` steps cover `max`. */
export function niceStep(max: number, target = 4): number {
  if (!(max > 0)) return 1;
  const raw = max / target;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  let step: number;
  if (norm <= 1) step = 1;
  else if (norm <= 2) step = 2;
  else if (norm <= 2.5) step = 2.5;
  else if (norm <= 5) step = 5;
  else step = 10;
  return Math.max(1, step * mag);
}

/** Tick values from 0 to a nice maximum ≥ max (integers: these are user counts). */
export function niceTicks(max: number, target = 4): number[] {
  if (!(max > 0)) return [0, 1];
  // user counts are integers: a fractional step (2.5) becomes the next smaller integer one
  const step = Math.max(1, Math.floor(niceStep(max, target)));
  const top = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(v);
  return ticks;
}

export function isGap(p: TrendPoint): boolean {
  return p.subtree.ok === 0;
}

export function computeChart(
  points: readonly TrendPoint[],
  plans: readonly Plan[],
  metric: Metric,
  layout: ChartLayout,
): ChartGeometry {
  const margin = layout.margin ?? { top: 8, right: 8, bottom: 22, left: 44 };
  const plot = {
    left: margin.left,
    right: Math.max(margin.left + 1, layout.width - margin.right),
    top: margin.top,
    bottom: Math.max(margin.top + 1, layout.height - margin.bottom),
  };
  const n = points.length;
  const slot = n > 0 ? (plot.right - plot.left) / n : 0;
  const barWidth = Math.max(1, Math.min(48, slot * (layout.barRatio ?? 0.62)));

  const totals = points.map((p) => plans.reduce((s, pl) => s + (p.totals[pl.id]?.[metric] ?? 0), 0));
  const maxTotal = points.reduce((m, p, i) => (isGap(p) ? m : Math.max(m, totals[i])), 0);
  const tickValues = niceTicks(maxTotal);
  const yMax = tickValues[tickValues.length - 1];
  const h = plot.bottom - plot.top;
  const yOf = (v: number) => plot.bottom - (yMax > 0 ? (v / yMax) * h : 0);

  const bars: Bar[] = points.map((p, i) => {
    const cx = plot.left + slot * (i + 0.5);
    const gap = isGap(p);
    const segments: Segment[] = [];
    if (!gap) {
      let acc = 0;
      for (const pl of plans) {
        const value = p.totals[pl.id]?.[metric] ?? 0;
        if (value <= 0) continue;
        const y0 = yOf(acc);
        acc += value;
        const y1 = yOf(acc);
        segments.push({ plan: pl.id, value, y: y1, height: y0 - y1 });
      }
    }
    return {
      month: p.month,
      index: i,
      x: cx - barWidth / 2,
      cx,
      width: barWidth,
      segments,
      total: gap ? 0 : totals[i],
      gap,
      nonExistent: gap && p.subtree.not_available === 0 && p.subtree.non_existent > 0,
    };
  });

  return { bars, ticks: tickValues.map((value) => ({ value, y: yOf(value) })), yMax, plot, slot };
}

/** Index of the month slot under pointer x, or null outside the plot. */
export function barAt(geom: ChartGeometry, x: number): number | null {
  if (geom.bars.length === 0 || x < geom.plot.left || x > geom.plot.right) return null;
  const i = Math.floor((x - geom.plot.left) / geom.slot);
  return Math.min(Math.max(i, 0), geom.bars.length - 1);
}

/** Which month labels to print when the slots are narrow: every k-th, always the last. */
export function labelStride(slot: number, minLabelWidth = 34): number {
  if (slot <= 0) return 1;
  return Math.max(1, Math.ceil(minLabelWidth / slot));
}
