// The package's main entry (`import { buildApp, loadConfig } from 'gatehouse'`): the whole server as a
// Fastify app to embed or test, and the one function that turns an environment into its Config.
export { buildApp, type AppDependencies, type GatehouseApp } from './app.js';
export { ConfigError, loadConfig, type Config, type Env, type LoadedConfig } from './config/index.js';
export { startServer, type Running } from './main.js';
