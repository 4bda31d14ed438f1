import { captureViews, showView, shownView } from '../capture-scope.ts';
import { activeWorkspace } from '../state.ts';
import { recording } from '../recording.ts';

const viewName = (lesson: string | null) => (lesson === null ? 'the free playground' : `lesson ${lesson.slice(0, 2)}`);

/**
 * Above the connections: which capture view is on show (the open lesson's), and a switch to the
 * earlier ones ("previous: lesson 03 (5 connections)"), kept apart from the lesson's own.
 */
export function CaptureViewBar() {
  const views = captureViews.value;
  const shown = shownView.value;
  // wsplay tap (no lessons), a recording on view, or nothing earlier yet: nothing to switch.
  if (activeWorkspace.value === null || recording.value || views.length < 2) return null;
  const current = views.length - 1;
  const prev = shown === current ? current - 1 : null;
  if (shown !== current) {
    const v = views[shown]!;
    return (
      <div class="capture-view looking-back" role="status">
        <span>
          Showing <b>{viewName(v.lesson)}</b>'s connections{v.toConn !== null ? ` (#${v.fromConn}–#${v.toConn})` : ''}
        </span>
        <button class="link-button" onClick={() => showView(current)}>
          back to {viewName(views[current]!.lesson)}
        </button>
      </div>
    );
  }
  const p = views[prev!]!;
  return (
    <div class="capture-view" role="status">
      <span class="muted">
        {viewName(views[current]!.lesson)} from #{views[current]!.fromConn}
      </span>
      <button class="link-button" onClick={() => showView(prev!)} title="The connections of the lesson before this one: kept, and not mixed into this one's">
        previous: {viewName(p.lesson)} ({p.connections} connection{p.connections === 1 ? '' : 's'})
      </button>
      {views.length > 2 && (
        <select aria-label="Earlier capture views" onChange={(e) => showView(Number((e.currentTarget as HTMLSelectElement).value))} value="">
          <option value="" disabled>
            earlier…
          </option>
          {views.slice(0, -2).map((v, i) => (
            <option value={i}>
              {viewName(v.lesson)} ({v.connections})
            </option>
          ))}
        </select>
      )}
    </div>
  );
}
