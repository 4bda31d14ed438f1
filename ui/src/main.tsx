import { render } from 'preact';
import { App } from './components/App.tsx';
import { connectStream } from './state.ts';

connectStream();
render(<App />, document.getElementById('app')!);
