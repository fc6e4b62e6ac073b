// What tools may use of the hub app (`@marvain/hub`): the benches build and start the same hub.
// Libraries never import an app; lint refuses it.
export { createHubApp, type HubAppOptions, type HubApplicationFactory } from './setup';
export { handleStopSignals, startLocalHub } from './local/local-hub';
