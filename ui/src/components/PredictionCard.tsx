import { useEffect, useState } from 'preact/hooks';
import { readOutcome, type Prediction } from '../../../lessons/harness/goal.ts';
import { answerPrediction, lessonDoc, predictionError, predictionSince } from '../lessons.ts';
import { model, version, wiretapNow } from '../state.ts';

/** The outcome is read over this many of the latest events: a busy capture costs no more than this per render. */
const READ_WINDOW = 5000;

/**
 * "Predict, then run": the question of a lesson's step, asked before the run or the fault it is
 * about; the guess is kept in progress.json. Once answered, the card reads what happened on the
 * wire (lessons/harness/goal.ts readOutcome, over the capture view's events since the answer)
 * and shows it beside the guess.
 */
export function PredictionCard({ p }: { p: Prediction }) {
  version.value;
  const doc = lessonDoc.value;
  const answer = doc?.progress.predictions?.[p.id] ?? null;
  const [asking, setAsking] = useState(false);
  const [, tick] = useState(0);
  const key = doc ? `${doc.id}/${p.id}` : p.id;
  const since = predictionSince.value[key] ?? 0;
  const now = wiretapNow() ?? 0;
  const events = model.events.slice(-READ_WINDOW);
  const reading = answer && !asking ? readOutcome(p, events, since, now) : null;
  const waitingForTime = answer !== null && !asking && !(reading?.settled ?? false);
  // "Nothing happened" is an outcome too, once enough time has passed: look again now and then.
  useEffect(() => {
    if (!waitingForTime) return;
    const t = setInterval(() => tick((n) => n + 1), 500);
    return () => clearInterval(t);
  }, [waitingForTime]);

  const choiceText = (id: string) => p.choices.find((c) => c.id === id)?.text ?? id;
  const pick = async (id: string) => {
    await answerPrediction(p.id, id);
    setAsking(false);
  };

  if (!answer || asking) {
    return (
      <section class="lp-predict" aria-label={`Prediction, step ${p.step}`}>
        <h4 class="lp-predict-head">Predict, then run</h4>
        <p class="lp-predict-q">{p.question}</p>
        <div class="lp-choices" role="group" aria-label="Your prediction">
          {p.choices.map((c) => (
            <button class="lp-choice" onClick={() => void pick(c.id)}>
              {c.text}
            </button>
          ))}
        </div>
        <p class="muted lp-predict-then">Answer first; then: {p.then}</p>
        {predictionError.value && (
          <p class="bad" role="alert">
            {predictionError.value}
          </p>
        )}
      </section>
    );
  }

  const outcome = reading?.outcome ?? null;
  const right = outcome !== null && outcome.choice === answer.choice;
  return (
    <section class="lp-predict answered" aria-label={`Prediction, step ${p.step}`}>
      <h4 class="lp-predict-head">Predict, then run</h4>
      <p class="lp-predict-q">{p.question}</p>
      <div class="lp-predict-grid">
        <div class="lp-guess">
          <span class="lp-predict-label">Your guess</span>
          <span>{choiceText(answer.choice)}</span>
        </div>
        <div class={`lp-wire${outcome ? (right ? ' good' : ' bad') : ''}`} role="status" aria-live="polite">
          <span class="lp-predict-label">On the wire{reading ? ` (#${reading.conn})` : ''}</span>
          {outcome ? (
            <>
              <span class="lp-outcome-choice">
                {right ? '✓ as you predicted: ' : '✗ not what you predicted: '}
                {choiceText(outcome.choice)}
              </span>
              <span class="lp-outcome-says">{outcome.says}</span>
            </>
          ) : reading ? (
            <span class="muted">Connection #{reading.conn}: nothing decisive yet…</span>
          ) : (
            <span class="muted">Nothing on the wire since you answered. Now: {p.then}</span>
          )}
        </div>
      </div>
      {outcome && <p class="lp-predict-explain">{p.explain}</p>}
      <button class="link-button lp-predict-again" onClick={() => setAsking(true)}>
        change my guess
      </button>
    </section>
  );
}
