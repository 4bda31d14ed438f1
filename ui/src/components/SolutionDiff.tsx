import { useEffect, useRef, useState } from 'preact/hooks';
import { learnerText, solution } from '../lessons.ts';

type Setup = typeof import('../monaco-setup.ts');
type DiffEditor = ReturnType<Setup['monaco']['editor']['createDiffEditor']>;

/**
 * The lesson's solution beside the learner's code, as a diff (Monaco's diff editor): the
 * learner's file on the left, the solution on the right, one tab per file of the lesson. Read
 * only: the learner types the fix into their own file, in the Code tab. Opened by "Show the
 * solution" (LessonPane), after the learner confirmed they want to see it.
 */
export function SolutionDiff() {
  const shown = solution.value;
  const dialog = useRef<HTMLDialogElement>(null);
  const host = useRef<HTMLDivElement>(null);
  const names = shown ? Object.keys(shown.files) : [];
  const [file, setFile] = useState<string | null>(null);
  const [mine, setMine] = useState<Record<string, string>>({});
  const [error, setError] = useState('');
  const editor = useRef<DiffEditor | null>(null);
  const setupRef = useRef<Setup | null>(null);

  // The files the learner has now (unsaved edits included), read when the diff opens.
  useEffect(() => {
    if (!shown) return;
    let live = true;
    void Promise.all(names.map(async (n) => [n, await learnerText(n)] as const)).then((pairs) => {
      if (!live) return;
      const texts = Object.fromEntries(pairs);
      setMine(texts);
      // Open on the first file where the learner's code differs from the solution.
      setFile(names.find((n) => texts[n] !== shown.files[n]) ?? names[0] ?? null);
    });
    return () => {
      live = false;
    };
  }, [shown]);

  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (shown && !d.open) d.showModal();
    else if (!shown && d.open) d.close();
  }, [shown]);

  useEffect(() => {
    if (!shown || !file || !host.current || !(file in mine)) return;
    let live = true;
    void import('../monaco-setup.ts')
      .then((m) => {
        if (!live || !host.current) return;
        setupRef.current = m;
        const { monaco } = m;
        if (!editor.current) {
          editor.current = monaco.editor.createDiffEditor(host.current, {
            readOnly: true,
            originalEditable: false,
            automaticLayout: true,
            renderSideBySide: true,
            minimap: { enabled: false },
            fontSize: 13,
            scrollBeyondLastLine: false,
            // The models are copies, not the workspace's files: no type errors to show on them.
            renderValidationDecorations: 'off',
            renderOverviewRuler: false,
            ariaLabel: `Your ${file} beside the solution's`,
          });
        }
        const lang = 'javascript';
        const before = editor.current.getModel();
        editor.current.setModel({
          original: monaco.editor.createModel(mine[file] ?? '', lang),
          modified: monaco.editor.createModel(shown.files[file] ?? '', lang),
        });
        before?.original.dispose();
        before?.modified.dispose();
        setError('');
      })
      .catch((err: Error) => setError(`The diff view could not load: ${err.message}`));
    return () => {
      live = false;
    };
  }, [shown, file, mine]);

  // Closed: the diff editor and its models go (the next opening reads the learner's files again).
  useEffect(() => {
    if (shown) return;
    const e = editor.current;
    if (!e) return;
    const models = e.getModel();
    e.dispose();
    models?.original.dispose();
    models?.modified.dispose();
    editor.current = null;
  }, [shown]);

  const close = () => (solution.value = null);
  const same = file !== null && file in mine && mine[file] === shown?.files[file];
  return (
    <dialog ref={dialog} class="lp-solution" aria-labelledby="lp-solution-title" onClose={close}>
      <header class="lp-solution-head">
        <h2 id="lp-solution-title">The solution, beside your code</h2>
        <div class="lp-solution-tabs" role="tablist" aria-label="Files">
          {names.map((n) => (
            <button role="tab" aria-selected={n === file} class={n === file ? 'tab active' : 'tab'} onClick={() => setFile(n)}>
              {n}
              {n in mine && mine[n] === shown?.files[n] && <span class="muted"> · same</span>}
            </button>
          ))}
        </div>
        <button class="lp-solution-close" onClick={close} autofocus>
          Close
        </button>
      </header>
      <p class="lp-solution-legend muted">
        <span>
          Left: <b>your {file ?? 'file'}</b>
        </span>
        <span>
          Right: <b>the solution</b>
        </span>
        <span>{same ? 'They are the same.' : 'Lines that differ are marked. Type the fix into your own file (Code tab): the lesson counts "done, solution shown" once the check passes.'}</span>
      </p>
      {error && (
        <p class="bad" role="alert">
          {error}
        </p>
      )}
      <div class="lp-solution-diff" ref={host} />
    </dialog>
  );
}
