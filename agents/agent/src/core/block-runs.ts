/** A run of consecutive block indexes, both ends included. */
export interface BlockRun {
  first: number;
  last: number;
}

/**
 * Groups block indexes into runs of consecutive ones, ascending, duplicates ignored:
 * [7, 1, 2, 3, 5, 2] -> [1..3], [5..5], [7..7]. One run becomes one HTTP Range request, so a
 * resumed download asks for what is missing in as few requests as there are gaps.
 */
export function blockRuns(blocks: Iterable<number>): BlockRun[] {
  const sorted = [...new Set(blocks)].sort((a, b) => a - b);
  const runs: BlockRun[] = [];
  for (const index of sorted) {
    const current = runs[runs.length - 1];
    if (current && index === current.last + 1) current.last = index;
    else runs.push({ first: index, last: index });
  }
  return runs;
}
