/**
 * The size of the capture panel's scroll area (the Timeline's rows, the diagram's arrows) when a
 * view last measured it. A view that opens draws at it at once: measuring first would lay the
 * page out in the task that opens it, and drawing at a guess and again once measured would lay
 * it out twice in its first frame (issue 19: tasks of 40 ms on opening the diagram after a burst).
 */
export const viewSize = { width: 0, height: 0 };

export function rememberViewSize(el: HTMLElement): { width: number; height: number } {
  viewSize.width = el.clientWidth;
  viewSize.height = el.clientHeight;
  return { ...viewSize };
}
