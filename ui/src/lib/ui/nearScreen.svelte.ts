// Whether a node has come near the screen yet (`nearView`), as state a component draws from:
// rows below the fold wait for it (`PendingRows` keeps their height meanwhile).
// Created during a component's initialisation (it registers an effect). In the markup:
//   <section bind:this={nearScreen.el}> · {#if !nearScreen.near}<PendingRows …/>{:else}rows{/if}

import { nearView } from './nearView';

export class NearScreen {
  el = $state<HTMLElement | undefined>();
  near = $state(false);

  constructor() {
    $effect(() => {
      if (!this.el || this.near) return;
      return nearView(this.el, () => (this.near = true));
    });
  }

  /** Waits for the screen again (what the rows show changed, e.g. another account). */
  reset(): void {
    this.near = false;
  }
}
