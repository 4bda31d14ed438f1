/// <reference types="vite/client" />
// Vite handles `import "./x.css"` and asset imports; this gives TypeScript their types.
