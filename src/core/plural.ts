/** `1 seed`, `2 seeds`: a count with its noun in the right number (nouns with a plain -s plural). */
export function countNoun(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
