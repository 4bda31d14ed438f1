import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

/**
 * A modal question with a safe default: Cancel has the focus, the other button does the
 * destructive thing. Open while `open` is true; Escape or Cancel call `onCancel`. A failure of
 * `onConfirm` is shown in the dialog, which stays open.
 */
export function ConfirmDialog(props: {
  open: boolean;
  id: string;
  title: ComponentChildren;
  children: ComponentChildren;
  cancelLabel: string;
  confirmLabel: ComponentChildren;
  onConfirm: () => Promise<void>;
  onCancel: () => void;
  class?: string;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) {
      setErr('');
      d.showModal();
    } else if (!props.open && d.open) d.close();
  }, [props.open]);
  const confirm = async () => {
    setBusy(true);
    setErr('');
    try {
      await props.onConfirm();
    } catch (e) {
      setErr((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog
      ref={ref}
      class={`ed-dialog${props.class ? ` ${props.class}` : ''}`}
      aria-labelledby={`${props.id}-title`}
      aria-describedby={`${props.id}-desc`}
      onClose={props.onCancel}
    >
      <h2 id={`${props.id}-title`}>{props.title}</h2>
      <p id={`${props.id}-desc`}>{props.children}</p>
      {err && (
        <p class="bad" role="alert">
          {err}
        </p>
      )}
      <div class="ed-dialog-buttons">
        <button autofocus onClick={props.onCancel} disabled={busy}>
          {props.cancelLabel}
        </button>
        <button class="danger" onClick={() => void confirm()} disabled={busy}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
